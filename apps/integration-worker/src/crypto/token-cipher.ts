// Moved to @coldcopy/integration-tokens (shared with the AI worker's calendar free/busy); re-exported for this app's imports.
export { createTokenCipher, parseTokenKeys, type TokenCipher, TokenDecryptionError, TokenKeyConfigError, tokenBinding } from '@coldcopy/integration-tokens';
