import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createDeflate, crc32 } from 'node:zlib';
import { TenancyError } from '@coldcopy/db';
import { isPermanentError } from '@coldcopy/queue-core';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { type OptimizeImagesResult, optimizeImagesHandler, type StoredVariant } from '../src/handlers/optimize-images.js';
import { testContext, useMaintenanceHarness } from './harness.js';

const h = useMaintenanceHarness();
const deps = () => h.deps();
let d: ReturnType<typeof deps>;
let ws: string;
let other: string;

beforeAll(async () => {
  d = deps();
  ws = randomUUID();
  other = randomUUID();
  for (const id of [ws, other]) await h.pool.query(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'img', $2)`, [id, `img-${id.slice(0, 8)}`]);
});

/** An upload row and its original in the (fake) uploads bucket. */
async function upload(data: Buffer, fileType: 'avatar' | 'logo' | 'template', ext: string, workspaceId = ws) {
  const id = randomUUID();
  const key = `workspaces/${workspaceId}/uploads/${id}/original.${ext}`;
  await d.uploadStore.put(key, Readable.from([data]), { contentType: 'application/octet-stream' });
  await h.pool.query(`INSERT INTO uploads (id, workspace_id, bucket, object_key, file_type) VALUES ($1, $2, 'coldcopy-uploads', $3, $4)`, [
    id,
    workspaceId,
    key,
    fileType,
  ]);
  return { uploadId: id, bucket: 'coldcopy-uploads', key, fileType, workspaceId, requestedBy: 'system' as const };
}

const run = async (payload: Awaited<ReturnType<typeof upload>>) => (await optimizeImagesHandler(payload, testContext(d))) as OptimizeImagesResult;

const photo = (format: 'jpeg' | 'png' | 'webp') => {
  const base = sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 180, g: 40, b: 90 } } });
  const withExif = base.withExif({ IFD0: { Copyright: 'Ada Lovelace', Artist: 'Ada', ImageDescription: 'home address' } });
  return (format === 'jpeg' ? withExif.jpeg() : format === 'png' ? withExif.png() : withExif.webp()).toBuffer();
};

async function describeVariant(v: StoredVariant) {
  const meta = await sharp(d.uploadStore.objects.get(v.key)!.body).metadata();
  return { name: v.name, format: meta.format, width: meta.width, height: meta.height, exif: meta.exif !== undefined, xmp: meta.xmp !== undefined };
}

/** A valid 1-bit PNG of width × height, all black, streamed through deflate a row at a time (about 100 KB for 30,000²). */
async function pngBomb(width: number, height: number): Promise<Buffer> {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([1, 0, 0, 0, 0], 8); // bit depth 1, greyscale
  const row = Buffer.alloc(1 + Math.ceil(width / 8)); // filter byte 0 + zero pixels
  const deflate = createDeflate({ level: 9 });
  const compressed = buffer(deflate);
  for (let y = 0; y < height; y++) if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  deflate.end();
  const idat = await compressed;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('optimize-images', () => {
  it('makes WebP variants of the right sizes without EXIF for JPEG, PNG and WebP, records them, and a rerun overwrites', async () => {
    const jpeg = await photo('jpeg');
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();
    const avatar = await upload(jpeg, 'avatar', 'jpg');
    const result = await run(avatar);
    expect(await Promise.all(result.variants.map(describeVariant))).toEqual([
      { name: 'avatar-200', format: 'webp', width: 200, height: 200, exif: false, xmp: false },
      { name: 'avatar-400', format: 'webp', width: 400, height: 400, exif: false, xmp: false },
      { name: 'thumbnail-100', format: 'webp', width: 100, height: 67, exif: false, xmp: false },
    ]);
    expect(result.variants.map((v) => v.key)).toEqual(
      ['avatar-200', 'avatar-400', 'thumbnail-100'].map((n) => `workspaces/${ws}/uploads/${avatar.uploadId}/variants/v1/${n}.webp`),
    );
    const row = (await h.pool.query(`SELECT status, metadata FROM uploads WHERE id = $1`, [avatar.uploadId])).rows[0];
    expect(row.status).toBe('processed');
    expect(row.metadata.variants).toEqual(result.variants);
    expect(row.metadata.source).toEqual({ format: 'jpeg', width: 1200, height: 800 });

    const objects = d.uploadStore.objects.size;
    const again = await run(avatar);
    expect(again.variants.map((v) => v.key)).toEqual(result.variants.map((v) => v.key));
    expect(d.uploadStore.objects.size).toBe(objects);

    const logo = await run(await upload(await photo('png'), 'logo', 'png'));
    expect(await Promise.all(logo.variants.map(describeVariant))).toEqual([
      { name: 'logo-300', format: 'webp', width: 300, height: 200, exif: false, xmp: false },
      { name: 'logo-600', format: 'webp', width: 600, height: 400, exif: false, xmp: false },
      { name: 'thumbnail-100', format: 'webp', width: 100, height: 67, exif: false, xmp: false },
    ]);
    const template = await run(await upload(await photo('webp'), 'template', 'webp'));
    expect(await Promise.all(template.variants.map(describeVariant))).toEqual([
      { name: 'thumbnail-100', format: 'webp', width: 100, height: 67, exif: false, xmp: false },
    ]);
  });

  it('refuses a truncated file and a 30,000 × 30,000 PNG permanently, marking the upload failed', async () => {
    const jpeg = await photo('jpeg');
    const truncated = await upload(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'avatar', 'jpg');
    const failure = await run(truncated).catch((err: Error) => err);
    expect((failure as Error).message).toMatch(/^corrupt image: /);
    expect(isPermanentError(failure)).toBe(true);

    const bomb = await pngBomb(30_000, 30_000);
    expect(bomb.length).toBeLessThan(1_000_000);
    const big = await upload(bomb, 'logo', 'png');
    const refused = await run(big).catch((err: Error) => err);
    expect((refused as Error).message).toBe('image of 30000 × 30000 pixels exceeds the limit of 50000000 pixels (decompression bomb guard)');
    expect(isPermanentError(refused)).toBe(true);

    const rows = (
      await h.pool.query(`SELECT id, status, metadata->>'optimize_error' AS error FROM uploads WHERE id = ANY($1::uuid[]) ORDER BY id`, [
        [truncated.uploadId, big.uploadId],
      ])
    ).rows;
    expect(rows.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect([...d.uploadStore.objects.keys()].some((k) => k.includes(truncated.uploadId) && k.includes('/variants/'))).toBe(false);
  });

  it('skips SVG and animated GIF (recorded, success)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>');
    expect(await run(await upload(svg, 'logo', 'svg'))).toEqual({ variants: [], skipped: 'SVG is kept as uploaded (vector)' });
    const frame = (r: number) =>
      sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g: 0, b: 0 } } })
        .png()
        .toBuffer();
    const gif = await sharp([await frame(255), await frame(0)], { join: { animated: true } })
      .gif()
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const animated = await upload(gif, 'avatar', 'gif');
    expect(await run(animated)).toEqual({ variants: [], skipped: 'animated gif is kept as uploaded' });
    const row = (await h.pool.query(`SELECT status, metadata FROM uploads WHERE id = $1`, [animated.uploadId])).rows[0];
    expect(row).toMatchObject({ status: 'processed', metadata: { variants: [], variants_skipped: 'animated gif is kept as uploaded' } });
  });

  it("refuses another workspace's upload and a key outside the workspace's prefix", async () => {
    const theirs = await upload(await photo('png'), 'avatar', 'png', other);
    await expect(run({ ...theirs, workspaceId: ws })).rejects.toThrow(TenancyError);
    const mine = await upload(await photo('png'), 'avatar', 'png');
    await expect(run({ ...mine, key: theirs.key })).rejects.toThrow(/is coldcopy-uploads\/workspaces\/.* not coldcopy-uploads\//);
  });
});
