import { hash } from 'node:crypto';

const BLOCK = 64;
const DIGEST = 32;

/**
 * HMAC-SHA256 (RFC 2104) of UTF-8 text under one key, computed with two one-shot `crypto.hash`
 * calls over buffers that already hold the padded key. The result is the same as
 * `createHmac('sha256', key).update(text).digest('base64url')`, but it creates no `Hmac` object
 * (a stream with a native handle that the garbage collector must finalise) and imports no key per
 * call: in the worker, between Redis replies, that costs several µs per job more than it does in a
 * tight loop (docs/benchmarks.md, "signature check").
 */
export class HmacSha256 {
  /** `K ⊕ ipad`, then the message; grows when a message does not fit */
  private inner: Buffer;
  /** `K ⊕ opad`, then the inner digest */
  private readonly outer = Buffer.alloc(BLOCK + DIGEST);

  constructor(key: Uint8Array) {
    // a key longer than the block is replaced by its digest (RFC 2104 §2)
    const k = Buffer.alloc(BLOCK);
    k.set(key.length > BLOCK ? hash('sha256', key, 'buffer') : key);
    this.inner = Buffer.alloc(BLOCK + 1024);
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = k[i]! ^ 0x36;
      this.outer[i] = k[i]! ^ 0x5c;
    }
    k.fill(0);
  }

  /** The MAC of `text` (encoded as UTF-8), in base64url. */
  base64url(text: string): string {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit
    if (BLOCK + text.length * 3 > this.inner.length) this.grow(BLOCK + text.length * 3);
    const end = BLOCK + this.inner.write(text, BLOCK, 'utf8');
    this.outer.write(hash('sha256', this.inner.subarray(0, end), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.outer, 'base64url');
  }

  private grow(size: number): void {
    const next = Buffer.alloc(Math.max(size, this.inner.length * 2));
    this.inner.copy(next, 0, 0, BLOCK);
    this.inner = next;
  }
}
