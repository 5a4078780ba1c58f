import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha256 } from './hmac-sha256.js';

const reference = (key: Uint8Array, text: string) => createHmac('sha256', key).update(text, 'utf8').digest('base64url');

describe('HmacSha256', () => {
  it('gives the same MAC as createHmac for every key size and for texts around the block boundaries', () => {
    for (const keyBytes of [1, 32, 63, 64, 65, 200]) {
      const key = randomBytes(keyBytes);
      const mac = new HmacSha256(key);
      for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 216, 1000]) {
        const text = 'x'.repeat(length);
        expect(mac.base64url(text), `key ${keyBytes} B, text ${length} B`).toBe(reference(key, text));
      }
    }
  });

  it('encodes text as UTF-8, including characters of two, three and four bytes', () => {
    const key = randomBytes(32);
    const text = `v2\nname\nwś\n1\njob 1 1 0 0\n${JSON.stringify({ subject: 'Grüße — 你好 😀', n: 1 })}`;
    expect(new HmacSha256(key).base64url(text)).toBe(reference(key, text));
  });

  it('grows its buffer for a long text and keeps the key for the texts after it', () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    const long = '😀'.repeat(10_000); // 40,000 bytes of UTF-8, past the initial buffer
    expect(mac.base64url(long)).toBe(reference(key, long));
    expect(mac.base64url('short')).toBe(reference(key, 'short'));
  });

  it('does not depend on the caller keeping the key buffer unchanged', () => {
    const key = randomBytes(32);
    const copy = Buffer.from(key);
    const mac = new HmacSha256(key);
    key.fill(0);
    expect(mac.base64url('text')).toBe(reference(copy, 'text'));
  });

  it('differs per key', () => {
    expect(new HmacSha256(randomBytes(32)).base64url('text')).not.toBe(new HmacSha256(randomBytes(32)).base64url('text'));
  });
});
