export * from './calendar-tokens.js';
export * from './oauth-client.js';
export * from './token-cipher.js';
export * from './token-vault.js';
