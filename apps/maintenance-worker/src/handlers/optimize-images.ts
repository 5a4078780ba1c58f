import { Readable } from 'node:stream';
import { getUpload, recordUploadOutcome } from '@coldcopy/db';
import { type optimizeImages, PermanentJobError } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import { workspaceOfKey } from '@coldcopy/storage';
import type { MaintenanceDeps } from '../deps.js';
import { ImageRejectedError, inspectImage, renderVariant, VARIANT_VERSION, VARIANTS } from '../domain/image-variants.js';

export interface StoredVariant {
  readonly name: string;
  readonly key: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  readonly format: 'webp';
}

export type OptimizeImagesResult = { readonly variants: StoredVariant[] } | { readonly variants: []; readonly skipped: string };

/** `workspaces/{ws}/uploads/{uploadId}/variants/v1/{name}.webp`: a retry overwrites, never duplicates. */
export function variantKey(workspaceId: string, uploadId: string, name: string): string {
  return `workspaces/${workspaceId}/uploads/${uploadId}/variants/${VARIANT_VERSION}/${name}.webp`;
}

/**
 * optimize-images: loads the upload row (refusing another workspace's), checks that bucket and key
 * are the row's and lie under the workspace's prefix, reads the original (size-capped), renders the
 * variants of its file type as WebP and records them on the upload (`metadata.variants`). SVG and
 * animated images are skipped (recorded, success); a corrupt, truncated, oversized or unsupported
 * image fails permanently and marks the upload failed. Storage errors are plain failures.
 */
export const optimizeImagesHandler: Handler<typeof optimizeImages, MaintenanceDeps> = async (payload, ctx) => {
  const { pool, images, uploadStore } = ctx.deps;
  const upload = await getUpload(pool, payload.workspaceId, payload.uploadId);
  if (upload.bucket !== payload.bucket || upload.objectKey !== payload.key) {
    throw new PermanentJobError(`optimize-images: upload ${upload.id} is ${upload.bucket}/${upload.objectKey}, not ${payload.bucket}/${payload.key}`);
  }
  if (workspaceOfKey(payload.key) !== payload.workspaceId) {
    throw new PermanentJobError(`optimize-images: key ${payload.key} is not under workspaces/${payload.workspaceId}/`);
  }
  if (payload.bucket !== images.bucket) {
    throw new PermanentJobError(`optimize-images: bucket ${payload.bucket} is not the uploads bucket ${images.bucket} (UPLOAD_BUCKET)`);
  }

  const reject = async (err: ImageRejectedError): Promise<never> => {
    await recordUploadOutcome(pool, payload.workspaceId, upload.id, 'failed', { optimize_error: err.message });
    ctx.log.warn('image refused', { uploadId: upload.id, reason: err.message });
    throw err;
  };

  const info = await uploadStore.head(payload.key);
  if (info && info.size > images.maxBytes) await reject(new ImageRejectedError(`image of ${info.size} bytes exceeds the limit of ${images.maxBytes} bytes`));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await uploadStore.get(payload.key)) {
    size += (chunk as Buffer).length;
    if (size > images.maxBytes) await reject(new ImageRejectedError(`image exceeds the limit of ${images.maxBytes} bytes`));
    chunks.push(chunk as Buffer);
  }
  const input = Buffer.concat(chunks);

  let inspection;
  try {
    inspection = await inspectImage(input, images);
  } catch (err) {
    if (err instanceof ImageRejectedError) return reject(err);
    throw err;
  }
  if (inspection.kind === 'skip') {
    await recordUploadOutcome(pool, payload.workspaceId, upload.id, 'processed', {
      variants: [],
      variants_skipped: inspection.reason,
      variants_version: VARIANT_VERSION,
    });
    return { variants: [], skipped: inspection.reason } satisfies OptimizeImagesResult;
  }

  const variants: StoredVariant[] = [];
  for (const spec of VARIANTS[payload.fileType]) {
    ctx.signal.throwIfAborted();
    let rendered;
    try {
      rendered = await renderVariant(input, spec, images);
    } catch (err) {
      if (err instanceof ImageRejectedError) return reject(err);
      throw err;
    }
    const key = variantKey(payload.workspaceId, upload.id, spec.name);
    await uploadStore.put(key, Readable.from([rendered.data]), { contentType: 'image/webp', signal: ctx.signal });
    variants.push({ name: spec.name, key, width: rendered.width, height: rendered.height, bytes: rendered.data.length, format: 'webp' });
  }
  await recordUploadOutcome(pool, payload.workspaceId, upload.id, 'processed', {
    variants,
    variants_version: VARIANT_VERSION,
    source: { format: inspection.format, width: inspection.width, height: inspection.height },
  });
  ctx.log.info('image variants stored', { uploadId: upload.id, variants: variants.length });
  return { variants } satisfies OptimizeImagesResult;
};
