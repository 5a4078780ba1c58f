import { createCipheriv, createDecipheriv, createHash, type DecipherGCM, type Hash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Backup encryption: AES-256-GCM over the whole dump, streamed. Layout of a stored object:
 *
 *   "CCBK1" (5 bytes) | IV (12 bytes) | ciphertext | GCM tag (16 bytes)
 *
 * The tag authenticates every byte, so a flipped byte anywhere fails decryption; the SHA-256 of
 * the stored object (kept in the metadata JSON) tells a damaged download from a wrong key before
 * anything is decrypted.
 */
export const BACKUP_MAGIC = Buffer.from('CCBK1', 'ascii');
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class BackupIntegrityError extends Error {
  override name = 'BackupIntegrityError';
  /** a damaged backup stays damaged: no retry */
  readonly permanent = true;
}

/** Parses BACKUP_ENCRYPTION_KEY: 32 bytes as base64 (or 64 hex characters). */
export function parseBackupKey(value: string): Buffer {
  const trimmed = value.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) throw new Error('BACKUP_ENCRYPTION_KEY must be 32 bytes (base64 or 64 hex characters)');
  return key;
}

/** A short public id of a key (recorded in the metadata to tell keys apart; not the key). */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('coldcopy-backup-key-id').update(key).digest('hex').slice(0, 16);
}

/** Encrypts a stream into the layout above. */
export function createEncryptStream(key: Buffer): Transform {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  let headerSent = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (!headerSent) {
        this.push(Buffer.concat([BACKUP_MAGIC, iv]));
        headerSent = true;
      }
      done(null, cipher.update(chunk));
    },
    flush(done: TransformCallback) {
      if (!headerSent) this.push(Buffer.concat([BACKUP_MAGIC, iv]));
      const last = cipher.final();
      done(null, Buffer.concat([last, cipher.getAuthTag()]));
    },
  });
}

/** Decrypts the layout above; fails with BackupIntegrityError on a bad header or tag. */
export function createDecryptStream(key: Buffer): Transform {
  let header = Buffer.alloc(0);
  let decipher: DecipherGCM | undefined;
  // the last 16 bytes seen so far may be the tag: held back until more arrive or the end
  let tail = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      let data = chunk;
      if (!decipher) {
        header = Buffer.concat([header, data]);
        if (header.length < BACKUP_MAGIC.length + IV_BYTES) return done();
        if (!header.subarray(0, BACKUP_MAGIC.length).equals(BACKUP_MAGIC)) {
          return done(new BackupIntegrityError('not a ColdCopy backup (bad header)'));
        }
        decipher = createDecipheriv('aes-256-gcm', key, header.subarray(BACKUP_MAGIC.length, BACKUP_MAGIC.length + IV_BYTES));
        data = header.subarray(BACKUP_MAGIC.length + IV_BYTES);
      }
      const joined = Buffer.concat([tail, data]);
      if (joined.length <= TAG_BYTES) {
        tail = joined;
        return done();
      }
      tail = joined.subarray(joined.length - TAG_BYTES);
      done(null, decipher.update(joined.subarray(0, joined.length - TAG_BYTES)));
    },
    flush(done: TransformCallback) {
      if (!decipher || tail.length < TAG_BYTES) return done(new BackupIntegrityError('backup is truncated'));
      try {
        decipher.setAuthTag(tail);
        done(null, decipher.final());
      } catch {
        done(new BackupIntegrityError('backup failed authentication (AES-256-GCM tag mismatch): the object was altered or the key is wrong'));
      }
    },
  });
}

/** A pass-through that counts bytes and hashes them (SHA-256). */
export class DigestStream extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private digest: string | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  /** the SHA-256 of everything that passed, once the stream ended */
  hex(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}
