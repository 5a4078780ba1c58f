import { RecordNotFoundError, TenancyError } from '../errors.js';
import type { Queryable } from '../pool.js';
import { assertId, assertWorkspaceId } from './scope.js';

/** An uploaded file (avatar, logo, template image, ...) and what optimize-images recorded on it. */
export interface Upload {
  readonly id: string;
  readonly workspaceId: string;
  readonly bucket: string;
  readonly objectKey: string;
  readonly fileType: string;
  readonly mimeType: string | null;
  readonly status: 'uploaded' | 'processing' | 'processed' | 'failed';
  readonly metadata: Record<string, unknown>;
}

/** The upload, refusing one of another workspace (TenancyError) before anything of it is used. */
export async function getUpload(db: Queryable, workspaceId: string, uploadId: string): Promise<Upload> {
  assertWorkspaceId(workspaceId);
  assertId('uploads', uploadId);
  const { rows } = await db.query<{
    id: string;
    workspace_id: string;
    bucket: string;
    object_key: string;
    file_type: string;
    mime_type: string | null;
    status: Upload['status'];
    metadata: Record<string, unknown>;
  }>(`SELECT id, workspace_id, bucket, object_key, file_type, mime_type, status, metadata FROM uploads WHERE id = $1`, [uploadId]);
  const row = rows[0];
  if (!row) throw new RecordNotFoundError('uploads', uploadId);
  if (row.workspace_id !== workspaceId) throw new TenancyError('uploads', uploadId, workspaceId);
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    bucket: row.bucket,
    objectKey: row.object_key,
    fileType: row.file_type,
    mimeType: row.mime_type,
    status: row.status,
    metadata: row.metadata,
  };
}

/**
 * Records the outcome of optimize-images on the upload: `metadata` gets the given keys merged in
 * (variants, skip reason or error), `status` the new state. Scoped by workspace.
 */
export async function recordUploadOutcome(
  db: Queryable,
  workspaceId: string,
  uploadId: string,
  status: 'processed' | 'failed',
  metadata: Record<string, unknown>,
): Promise<void> {
  assertWorkspaceId(workspaceId);
  const result = await db.query(`UPDATE uploads SET status = $3, metadata = metadata || $4::jsonb WHERE workspace_id = $1 AND id = $2`, [
    workspaceId,
    uploadId,
    status,
    JSON.stringify(metadata),
  ]);
  if (result.rowCount === 0) throw new RecordNotFoundError('uploads', uploadId);
}
