import sharp, { type Metadata } from 'sharp';

/**
 * optimize-images (domain.md §5): WebP variants of an avatar, logo or template image. The pixel
 * count is read from the header and capped before anything is decoded (decompression bombs);
 * sharp drops EXIF and every other metadata from its output unless asked to keep it, and
 * `rotate()` applies the EXIF orientation first so the stripped image still stands upright.
 */

/** The version of the variant set (part of the job key and the object keys): bump it when sizes or formats change. */
export const VARIANT_VERSION = 'v1';

export interface VariantSpec {
  readonly name: string;
  /** the box the variant fits: `cover` crops to a size×size square, `inside` keeps the aspect ratio */
  readonly size: number;
  readonly fit: 'cover' | 'inside';
}

const THUMBNAIL: VariantSpec = { name: 'thumbnail-100', size: 100, fit: 'inside' };
export const VARIANTS: Record<'avatar' | 'logo' | 'template', readonly VariantSpec[]> = {
  avatar: [{ name: 'avatar-200', size: 200, fit: 'cover' }, { name: 'avatar-400', size: 400, fit: 'cover' }, THUMBNAIL],
  logo: [{ name: 'logo-300', size: 300, fit: 'inside' }, { name: 'logo-600', size: 600, fit: 'inside' }, THUMBNAIL],
  template: [THUMBNAIL],
};

/** The input cannot become variants, now or later (corrupt, too large, unsupported): permanent. */
export class ImageRejectedError extends Error {
  override name = 'ImageRejectedError';
  readonly permanent = true;
}

export interface ImageLimits {
  readonly maxPixels: number;
  readonly webpQuality: number;
}

export type Inspection =
  | { readonly kind: 'skip'; readonly reason: string; readonly format: string }
  | { readonly kind: 'raster'; readonly format: string; readonly width: number; readonly height: number };

const RASTER = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** Reads the header only: the format, the size, whether it is animated. */
export async function inspectImage(input: Buffer, limits: ImageLimits): Promise<Inspection> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageRejectedError(`not a readable image: ${(err as Error).message}`);
  }
  const format = meta.format ?? 'unknown';
  if (format === 'svg') return { kind: 'skip', reason: 'SVG is kept as uploaded (vector)', format };
  if ((meta.pages ?? 1) > 1) return { kind: 'skip', reason: `animated ${format} is kept as uploaded`, format };
  if (!RASTER.has(format)) throw new ImageRejectedError(`unsupported image format ${format}`);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new ImageRejectedError('image without dimensions');
  if (width * height > limits.maxPixels) {
    throw new ImageRejectedError(`image of ${width} × ${height} pixels exceeds the limit of ${limits.maxPixels} pixels (decompression bomb guard)`);
  }
  return { kind: 'raster', format, width, height };
}

export interface RenderedVariant {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly data: Buffer;
}

/** Renders one variant; a truncated or corrupt input fails with ImageRejectedError. */
export async function renderVariant(input: Buffer, spec: VariantSpec, limits: ImageLimits): Promise<RenderedVariant> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: limits.maxPixels, failOn: 'truncated', sequentialRead: true })
      .rotate()
      .resize(spec.size, spec.size, { fit: spec.fit, withoutEnlargement: true })
      .webp({ quality: limits.webpQuality })
      .toBuffer({ resolveWithObject: true });
    return { name: spec.name, width: info.width, height: info.height, data };
  } catch (err) {
    throw new ImageRejectedError(`corrupt image: ${(err as Error).message}`);
  }
}

/** One sharp job at a time and no cache: the worker has 1 GB, images are processed one by one. */
export function configureSharp(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}
