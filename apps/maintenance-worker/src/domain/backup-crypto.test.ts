import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { BACKUP_MAGIC, BackupIntegrityError, createDecryptStream, createEncryptStream, DigestStream, keyId, parseBackupKey } from './backup-crypto.js';

const key = randomBytes(32);
const chunked = (data: Buffer, size: number) =>
  Readable.from(Array.from({ length: Math.ceil(data.length / size) }, (_, i) => data.subarray(i * size, (i + 1) * size)));
const encrypt = (data: Buffer, k = key) => buffer(chunked(data, 7_777).pipe(createEncryptStream(k)));
const decrypt = (data: Buffer, k = key, size = 5_000) => buffer(chunked(data, size).pipe(createDecryptStream(k)));

describe('backup encryption (AES-256-GCM, streamed)', () => {
  it('round-trips any chunking, and an empty dump', async () => {
    const plain = randomBytes(200_003);
    const sealed = await encrypt(plain);
    expect(sealed.subarray(0, 5)).toEqual(BACKUP_MAGIC);
    expect(sealed.length).toBe(plain.length + 5 + 12 + 16);
    for (const size of [4096, 65_536, sealed.length]) expect((await decrypt(sealed, key, size)).equals(plain)).toBe(true); // not toEqual: byte-by-byte deep equality is slow
    const small = randomBytes(1_000);
    const smallSealed = await encrypt(small);
    for (const size of [1, 15, 16, 17]) expect((await decrypt(smallSealed, key, size)).equals(small)).toBe(true);
    expect((await decrypt(await encrypt(Buffer.alloc(0)))).length).toBe(0);
  });

  it('refuses a flipped byte anywhere, a truncated object, a bad header and the wrong key', async () => {
    const sealed = await encrypt(randomBytes(50_000));
    for (const at of [20, 25_000, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x80;
      await expect(decrypt(bad)).rejects.toThrow(BackupIntegrityError);
    }
    await expect(decrypt(sealed.subarray(0, sealed.length - 10))).rejects.toThrow('failed authentication');
    await expect(decrypt(sealed.subarray(0, 20))).rejects.toThrow('backup is truncated');
    await expect(decrypt(Buffer.concat([Buffer.from('PGDMP'), sealed.subarray(5)]))).rejects.toThrow('not a ColdCopy backup (bad header)');
    await expect(decrypt(sealed, randomBytes(32))).rejects.toThrow('the object was altered or the key is wrong');
  });

  it('parses base64 and hex keys of 32 bytes only; the key id does not reveal the key', () => {
    expect(parseBackupKey(key.toString('base64'))).toEqual(key);
    expect(parseBackupKey(key.toString('hex'))).toEqual(key);
    expect(() => parseBackupKey(randomBytes(16).toString('base64'))).toThrow('BACKUP_ENCRYPTION_KEY must be 32 bytes');
    expect(keyId(key)).toMatch(/^[0-9a-f]{16}$/);
    expect(key.toString('hex')).not.toContain(keyId(key));
  });

  it('the digest stream counts and hashes what passes', async () => {
    const digest = new DigestStream();
    const out = await buffer(Readable.from([Buffer.from('abc')]).pipe(digest));
    expect(out.toString()).toBe('abc');
    expect(digest.bytes).toBe(3);
    expect(digest.hex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
