import { randomBytes } from 'node:crypto';
import { assertObjectKey } from './object-store.js';

/** The private bucket of exports and reports (domain.md §7). */
export const EXPORTS_BUCKET = 'coldcopy-exports';

/** Download links: 1 hour, 7 days for GDPR exports (domain.md §7). */
export const EXPORT_URL_TTL_SECONDS = 3600;
export const GDPR_URL_TTL_SECONDS = 7 * 24 * 3600;

/**
 * `workspaces/{ws}/exports/{timestamp}/{random16hex}/{name}.{ext}` (domain.md §7). The random part
 * makes the key unguessable; the workspace id keeps tenants apart (domain.md §8 rule 4). Callers
 * store the key before uploading so a retry writes the same object instead of a second one.
 */
export function exportObjectKey(workspaceId: string, name: string, ext: string, now: Date = new Date()): string {
  if (!/^[0-9a-f-]{36}$/i.test(workspaceId)) throw new TypeError(`workspaceId must be a uuid, got ${JSON.stringify(workspaceId)}`);
  const safeName =
    name
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 100) || 'export';
  if (!/^[a-z0-9]{1,8}$/.test(ext)) throw new TypeError(`bad extension ${JSON.stringify(ext)}`);
  const timestamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  const key = `workspaces/${workspaceId}/exports/${timestamp}/${randomBytes(8).toString('hex')}/${safeName}.${ext}`;
  assertObjectKey(key);
  return key;
}

/** The workspace a key belongs to, or null for a key outside `workspaces/{ws}/`. */
export function workspaceOfKey(key: string): string | null {
  return /^workspaces\/([0-9a-f-]{36})\//i.exec(key)?.[1] ?? null;
}
