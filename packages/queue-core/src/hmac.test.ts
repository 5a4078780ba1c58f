import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HmacSha256 } from './hmac.js';

describe('HmacSha256', () => {
  it('equals createHmac for keys shorter than, equal to and longer than a block, and any message', () => {
    const messages = ['', 'a', 'v1\nsend-email\nws\n1700000000000\n{"a":1}', 'é€😀'.repeat(300), 'x'.repeat(1020), 'y'.repeat(5000), 'ü'.repeat(513)];
    for (const length of [1, 32, 63, 64, 65, 128]) {
      const key = randomBytes(length);
      const mac = new HmacSha256(key);
      for (const message of messages) {
        expect(mac.base64url(message), `key ${length} bytes, message ${message.length} chars`).toBe(
          createHmac('sha256', key).update(message, 'utf8').digest('base64url'),
        );
      }
      // after growing its buffer for a long message it still handles short ones
      expect(mac.base64url('short')).toBe(createHmac('sha256', key).update('short').digest('base64url'));
    }
  });

  it('matches the RFC 4231 test vector 2', () => {
    const mac = new HmacSha256(Buffer.from('Jefe'));
    expect(Buffer.from(mac.base64url('what do ya want for nothing?'), 'base64url').toString('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('keeps the messages of different lengths apart (no stale bytes from a longer one)', () => {
    const key = randomBytes(32);
    const mac = new HmacSha256(key);
    mac.base64url('a much longer message than the next one');
    expect(mac.base64url('short')).toBe(createHmac('sha256', key).update('short').digest('base64url'));
  });
});
