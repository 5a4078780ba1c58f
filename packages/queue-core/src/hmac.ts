import * as crypto from 'node:crypto';

/**
 * HMAC-SHA256 (RFC 2104) of UTF-8 text with a fixed key, built from two one-shot `crypto.hash`
 * calls over reused buffers.
 *
 * Why not `createHmac`: the worker verifies one signature per job, and every `createHmac` call
 * builds a native Hmac object, a stream wrapper and a digest Buffer that the GC must track and
 * finalise; in the worker's loop that costs several times the hash itself (docs/benchmarks.md).
 * One-shot hashing allocates nothing per call but the 32-byte inner digest. The construction is
 * the textbook one, H((K ^ opad) || H((K ^ ipad) || m)), and `hmac.test.ts` checks it against
 * `createHmac` for many keys and messages. Node < 20.12 lacks `crypto.hash`: `createHmac` then.
 *
 * Not reentrant across threads, which JavaScript does not have; calls are synchronous.
 */
const BLOCK = 64;

type OneShotHash = (algorithm: string, data: crypto.BinaryLike, outputEncoding: string) => string | Buffer;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

export class HmacSha256 {
  /** K ^ ipad, followed by room for the message */
  private inner: Buffer;
  /** K ^ opad, followed by the inner digest */
  private readonly outer = Buffer.alloc(BLOCK + 32);
  private readonly key: crypto.KeyObject;

  constructor(key: Buffer) {
    this.key = crypto.createSecretKey(key);
    const block = Buffer.alloc(BLOCK);
    (key.length > BLOCK ? crypto.createHash('sha256').update(key).digest() : key).copy(block);
    this.inner = Buffer.alloc(BLOCK + 1024);
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = block[i]! ^ 0x36;
      this.outer[i] = block[i]! ^ 0x5c;
    }
    block.fill(0);
  }

  /** The MAC of `text` (UTF-8) in base64url. */
  base64url(text: string): string {
    if (!oneShot) return crypto.createHmac('sha256', this.key).update(text).digest('base64url');
    let room = this.inner.length - BLOCK;
    let written = this.inner.write(text, BLOCK, 'utf8');
    if (written >= room - 3) {
      // possibly cut short (write() stops before a character that does not fit): make room
      const needed = Buffer.byteLength(text, 'utf8');
      if (needed > written) {
        const bigger = Buffer.alloc(BLOCK + Math.max(needed, room * 2));
        this.inner.copy(bigger, 0, 0, BLOCK);
        this.inner.fill(0);
        this.inner = bigger;
        room = bigger.length - BLOCK;
        written = bigger.write(text, BLOCK, 'utf8');
      }
    }
    (oneShot('sha256', this.inner.subarray(0, BLOCK + written), 'buffer') as Buffer).copy(this.outer, BLOCK);
    return oneShot('sha256', this.outer, 'base64url') as string;
  }
}
