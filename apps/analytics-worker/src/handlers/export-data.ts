import { createHash } from 'node:crypto';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  buildExportQuery,
  claimExportJob,
  completeExportJob,
  failExportJob,
  getExportJob,
  insertAuditLog,
  insertGdprAuditLog,
  insertUserNotice,
  openExportCopy,
  openExportCursor,
  setExportProgress,
  withTransaction,
} from '@coldcopy/db';
import { type exportData, isPermanentError, PermanentJobError } from '@coldcopy/queue-core';
import type { Handler, JobContext } from '@coldcopy/queue-core/runtime';
import { EXPORT_URL_TTL_SECONDS, exportObjectKey, GDPR_URL_TTL_SECONDS } from '@coldcopy/storage';
import type { AnalyticsDeps } from '../deps.js';
import { exportFailedNotice, exportReadyNotice } from '../domain/export-notice.js';
import { CONTENT_TYPES, csvFromCopy, ExportTooLargeError, jsonArrayFromLines, xlsxSink } from '../domain/export-formats.js';

export interface ExportDataResult {
  readonly downloadUrl: string;
  readonly objectKey: string;
  readonly fileSize: number;
  readonly rowCount: number;
  readonly expiresAt: string;
  /** SHA-256 of the stored bytes (hex); also in the audit row. Absent when an earlier run stored the file. */
  readonly sha256?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** progress is written at most this often (one UPDATE and one Redis write) */
const PROGRESS_EVERY_MS = 1000;

/**
 * Streams an export into the object store, every stage with back-pressure, so memory stays flat
 * whatever the row count: CSV and JSON are rendered by Postgres (COPY) and only framed here
 * (CRLF record ends, the JSON array); XLSX reads rows from a server-side cursor into exceljs's
 * streaming writer. Then the byte cap and SHA-256, then the multipart upload. The object key is fixed on the
 * export_jobs row by the first attempt: a retry or a restart after a crash discards the dead
 * upload and writes the same key again, and a completed export is never written twice.
 */
export const exportDataHandler: Handler<typeof exportData, AnalyticsDeps> = async (payload, ctx) => {
  const { pool, store, config, metrics, now } = ctx.deps;
  const { workspaceId, exportJobId } = payload;
  const row = await getExportJob(pool, workspaceId, exportJobId);
  if (row.type !== payload.type || row.format !== payload.format) {
    throw new PermanentJobError(`export ${exportJobId} is a ${row.type}/${row.format} export, the job asks for ${payload.type}/${payload.format}`);
  }
  const gdpr = payload.type === 'gdpr';
  const ttl = gdpr ? GDPR_URL_TTL_SECONDS : EXPORT_URL_TTL_SECONDS;

  if (row.status === 'completed' && row.object_key) {
    const head = await store.head(row.object_key);
    if (head) return finished(ctx, row.object_key, Number(row.row_count), head.size, undefined, ttl);
  }
  if (row.status === 'expired') throw new PermanentJobError(`export ${exportJobId} has expired`);

  const claimed = await claimExportJob(pool, workspaceId, exportJobId, {
    objectKey: exportObjectKey(workspaceId, `${payload.type}-export`, payload.format, now()),
    bullJobId: ctx.jobId,
  });
  const key = claimed.object_key!;
  // a previous attempt that died mid-upload left an unfinished multipart upload (never an object)
  const discarded = await store.abortIncompleteUploads(key);
  if (discarded > 0) ctx.log.info('discarded an unfinished upload of an earlier attempt', { key, discarded });

  let rowCount = 0;
  let bytes = 0;
  try {
    const query = buildExportQuery(workspaceId, payload.type, payload.format, payload.fields, payload.filters);
    const hash = createHash('sha256');
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > config.exports.maxBytes) return done(new ExportTooLargeError(config.exports.maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    // the metered bytes are the upload's body; a failed upload stops the producer at once
    const upload = store.put(key, meter, {
      contentType: CONTENT_TYPES[payload.format],
      metadata: { 'export-job': exportJobId, workspace: workspaceId },
      signal: ctx.signal,
    });
    upload.catch((err: Error) => meter.destroy(err));

    // CSV and JSON: Postgres renders the bytes (COPY), no row becomes an object here;
    // XLSX needs the values: a server-side cursor of rows
    let source: Readable;
    let counted: () => number;
    let total: number;
    let close: () => Promise<void>;
    let produce: Promise<void>;
    if (payload.format === 'xlsx') {
      const sink = await xlsxSink(query.columns, meter, { maxRowsPerSheet: config.exports.xlsxMaxRowsPerSheet, sheetName: payload.type });
      const cursor = await openExportCursor(pool, query, { batchSize: config.exports.batchRows, statementTimeoutMs: config.exports.statementTimeoutMs });
      let rows = 0;
      cursor.rows.on('data', () => rows++);
      ({ total, close } = cursor);
      source = cursor.rows;
      counted = () => rows;
      produce = pipeline(cursor.rows, sink, { signal: ctx.signal });
    } else {
      const copy = await openExportCopy(pool, query, payload.format, { statementTimeoutMs: config.exports.statementTimeoutMs });
      const render = payload.format === 'csv' ? csvFromCopy() : jsonArrayFromLines();
      ({ total, close } = copy);
      source = render;
      counted = () => render.records;
      produce = pipeline(copy.bytes, render, meter, { signal: ctx.signal });
    }

    // progress: at most one UPDATE and one Redis write per PROGRESS_EVERY_MS, one in flight
    let lastProgress = Date.now();
    let progressWrite: Promise<unknown> = Promise.resolve();
    source.on('data', () => {
      if (Date.now() - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = Date.now();
      const rows = counted();
      const percent = total > 0 ? Math.min(99, Math.floor((rows / total) * 100)) : 0;
      progressWrite = progressWrite.then(() =>
        Promise.all([setExportProgress(pool, workspaceId, exportJobId, percent), ctx.progress({ percent, rows, total })]).catch((err) =>
          ctx.log.warn('progress not recorded', { err: (err as Error).message }),
        ),
      );
    });
    try {
      await produce;
    } catch (err) {
      meter.destroy(err as Error); // aborts the upload: no object appears
      await upload.catch(() => {});
      throw err;
    } finally {
      rowCount = counted();
      await close();
      await progressWrite;
    }
    const stored = await upload;
    const sha256 = hash.digest('hex');
    const expiresAt = new Date(now().getTime() + ttl * 1000);
    const actorUserId = payload.requestedBy && UUID.test(payload.requestedBy) ? payload.requestedBy : null;
    const details = { type: payload.type, format: payload.format, rows: rowCount, bytes: stored.size, sha256, object_key: key };
    // the state, the audit row and the user's notice together, or none of them (a retry redoes all)
    await withTransaction(pool, async (tx) => {
      await completeExportJob(tx, workspaceId, exportJobId, { rowCount, fileSize: stored.size, expiresAt });
      if (gdpr) {
        await insertGdprAuditLog(tx, workspaceId, {
          actorUserId,
          action: 'gdpr_export_created',
          resourceType: 'export_job',
          resourceId: exportJobId,
          leadIds: payload.filters?.leadIds ?? [],
          details,
        });
      } else {
        await insertAuditLog(tx, workspaceId, {
          actorUserId,
          action: 'export.completed',
          resourceType: 'export_job',
          resourceId: exportJobId,
          changes: details,
        });
      }
      await insertUserNotice(
        tx,
        workspaceId,
        exportReadyNotice({ ...payload, requestedBy: row.requested_by ?? payload.requestedBy }, { rows: rowCount, bytes: stored.size, expiresAt }),
      );
    });
    metrics.exportFinished(payload.type, payload.format, 'completed', rowCount, stored.size);
    ctx.log.info('export stored', { key, rows: rowCount, bytes: stored.size });
    return finished(ctx, key, rowCount, stored.size, sha256, ttl);
  } catch (err) {
    metrics.exportFinished(payload.type, payload.format, 'failed', rowCount, bytes);
    const lastAttempt = isPermanentError(err) || ctx.attempt >= ctx.attempts;
    if (lastAttempt) {
      // the failed state and the user's notice together; an export completed meanwhile stays so, without a notice
      await withTransaction(pool, async (tx) => {
        if (await failExportJob(tx, workspaceId, exportJobId, (err as Error).message)) {
          await insertUserNotice(tx, workspaceId, exportFailedNotice({ ...payload, requestedBy: row.requested_by ?? payload.requestedBy }, err));
        }
      }).catch((e: Error) => ctx.log.warn('export failure not recorded', { err: e.message }));
    }
    throw err;
  }
};

async function finished(
  ctx: JobContext<AnalyticsDeps>,
  key: string,
  rowCount: number,
  fileSize: number,
  sha256: string | undefined,
  ttlSeconds: number,
): Promise<ExportDataResult> {
  const { store, now } = ctx.deps;
  const name = key.slice(key.lastIndexOf('/') + 1);
  return {
    downloadUrl: await store.presignGet(key, ttlSeconds, { downloadName: name }),
    objectKey: key,
    fileSize,
    rowCount,
    expiresAt: new Date(now().getTime() + ttlSeconds * 1000).toISOString(),
    ...(sha256 ? { sha256 } : {}),
  };
}
