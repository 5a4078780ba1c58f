import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PermanentJobError } from '@coldcopy/queue-core';

/**
 * OAuth tokens at rest: AES-256-GCM with a key id, so keys rotate. `INTEGRATION_TOKEN_KEYS` is
 * `kid:base64key[,oldkid:base64key…]`; the first key encrypts, every listed key decrypts. A token
 * read under an older key is re-encrypted under the current one (TokenManager), so an old key can
 * be dropped once no row names it (`token_key_id`).
 *
 * Layout (bytea): version 0x01 | kid length | kid | 12-byte nonce | 16-byte tag | ciphertext.
 * The associated data binds a ciphertext to its row and field (`<table>:<row id>:<field>`): a
 * token copied to another connection or field does not decrypt.
 */
export interface TokenCipher {
  readonly currentKeyId: string;
  encrypt(plaintext: string, binding: string): Buffer;
  decrypt(sealed: Buffer, binding: string): string;
  /** the key id a sealed value names */
  keyIdOf(sealed: Buffer): string;
}

/** A key ring entry is malformed (the message names the entry, never the key). */
export class TokenKeyConfigError extends Error {
  override name = 'TokenKeyConfigError';
}

/** A stored token does not decrypt (unknown key id, wrong key, altered bytes): the connection must be reconnected. */
export class TokenDecryptionError extends PermanentJobError {
  override name = 'TokenDecryptionError';
}

const VERSION = 1;

export function parseTokenKeys(raw: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .forEach((entry, i) => {
      const [kid, b64, extra] = entry.split(':');
      if (!kid || !b64 || extra !== undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(kid))
        throw new TokenKeyConfigError(`INTEGRATION_TOKEN_KEYS entry ${i + 1} is not "kid:base64key"`);
      const key = Buffer.from(b64, 'base64');
      if (key.length !== 32) throw new TokenKeyConfigError(`INTEGRATION_TOKEN_KEYS key "${kid}" must decode to 32 bytes, got ${key.length}`);
      if (keys.has(kid)) throw new TokenKeyConfigError(`INTEGRATION_TOKEN_KEYS: duplicate key id "${kid}"`);
      keys.set(kid, key);
    });
  if (keys.size === 0) throw new TokenKeyConfigError('INTEGRATION_TOKEN_KEYS has no keys');
  return keys;
}

export function createTokenCipher(raw: string): TokenCipher {
  const keys = parseTokenKeys(raw);
  const [currentKeyId, current] = keys.entries().next().value as [string, Buffer];
  const split = (sealed: Buffer) => {
    if (sealed.length < 2 || sealed[0] !== VERSION) throw new TokenDecryptionError('stored token has an unknown format');
    const kidLength = sealed[1]!;
    const kid = sealed.subarray(2, 2 + kidLength).toString('ascii');
    const body = sealed.subarray(2 + kidLength);
    if (body.length < 28) throw new TokenDecryptionError('stored token is truncated');
    return { kid, nonce: body.subarray(0, 12), tag: body.subarray(12, 28), ciphertext: body.subarray(28) };
  };
  return {
    currentKeyId,
    encrypt(plaintext, binding) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, nonce);
      cipher.setAAD(Buffer.from(binding));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const kid = Buffer.from(currentKeyId, 'ascii');
      return Buffer.concat([Buffer.from([VERSION, kid.length]), kid, nonce, cipher.getAuthTag(), ciphertext]);
    },
    decrypt(sealed, binding) {
      const { kid, nonce, tag, ciphertext } = split(sealed);
      const key = keys.get(kid);
      if (!key) throw new TokenDecryptionError(`stored token names key "${kid}", which INTEGRATION_TOKEN_KEYS does not hold`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(Buffer.from(binding));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
      } catch {
        throw new TokenDecryptionError(`stored token does not authenticate under key "${kid}" (wrong key, other row, or altered)`);
      }
    },
    keyIdOf: (sealed) => split(sealed).kid,
  };
}

/** The associated data of a connection's token field. */
export const tokenBinding = (table: string, rowId: string, field: 'access' | 'refresh') => `${table}:${rowId}:${field}`;
