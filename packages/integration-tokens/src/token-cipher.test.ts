import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, TokenDecryptionError, TokenKeyConfigError } from './token-cipher.js';

const key = () => randomBytes(32).toString('base64');

describe('token cipher', () => {
  const k1 = `k1:${key()}`;
  const k2 = `k2:${key()}`;

  it('round-trips and never stores the plaintext', () => {
    const c = createTokenCipher(k1);
    const sealed = c.encrypt('access-token-secret', 'integration_connections:a:access');
    expect(sealed.includes(Buffer.from('access-token-secret'))).toBe(false);
    expect(c.decrypt(sealed, 'integration_connections:a:access')).toBe('access-token-secret');
    expect(c.keyIdOf(sealed)).toBe('k1');
  });

  it('decrypts old keys after a rotation and encrypts with the new one', () => {
    const old = createTokenCipher(k1).encrypt('t', 'b');
    const rotated = createTokenCipher(`${k2},${k1}`);
    expect(rotated.decrypt(old, 'b')).toBe('t');
    expect(rotated.keyIdOf(rotated.encrypt('t', 'b'))).toBe('k2');
    expect(() => createTokenCipher(k2).decrypt(old, 'b')).toThrow(TokenDecryptionError);
  });

  it('refuses another binding and altered bytes', () => {
    const c = createTokenCipher(k1);
    const sealed = c.encrypt('t', 'row-a');
    expect(() => c.decrypt(sealed, 'row-b')).toThrow(TokenDecryptionError);
    const altered = Buffer.from(sealed);
    altered[altered.length - 1]! ^= 1;
    expect(() => c.decrypt(altered, 'row-a')).toThrow(TokenDecryptionError);
  });

  it('names a bad key entry without printing it', () => {
    const short = randomBytes(16).toString('base64');
    expect(() => createTokenCipher(`k1:${short}`)).toThrow(TokenKeyConfigError);
    try {
      createTokenCipher(`k1:${short}`);
    } catch (err) {
      expect((err as Error).message).not.toContain(short);
    }
  });
});
