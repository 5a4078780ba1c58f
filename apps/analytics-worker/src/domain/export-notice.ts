import type { ExportFormat, ExportType, UserNotice } from '@coldcopy/db';
import { isPermanentError } from '@coldcopy/queue-core';

/**
 * What the user who asked for an export is told (domain.md §5 export-data "user notice"): that it
 * is ready, with its size and until when the file can be downloaded, or that it failed and what to
 * do. A notice names the export job; the web app signs a fresh download link when it is opened,
 * so no URL is stored.
 */
const LABELS: Record<ExportType, string> = {
  leads: 'leads',
  campaigns: 'campaigns',
  email_events: 'email events',
  analytics: 'analytics',
  gdpr: 'personal data (GDPR)',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ExportRef {
  readonly exportJobId: string;
  readonly type: ExportType;
  readonly format: ExportFormat;
  /** a user id, or `system` / absent: the notice then addresses the workspace */
  readonly requestedBy?: string | null;
}

export function exportReadyNotice(ref: ExportRef, done: { readonly rows: number; readonly bytes: number; readonly expiresAt: Date }): UserNotice {
  const what = `${LABELS[ref.type]} export (${ref.format.toUpperCase()}, ${done.rows.toLocaleString('en')} ${done.rows === 1 ? 'row' : 'rows'}, ${formatBytes(done.bytes)})`;
  const until = `${done.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return {
    userId: recipient(ref.requestedBy),
    kind: 'export.ready',
    severity: 'success',
    title: 'Your export is ready',
    body:
      ref.type === 'gdpr'
        ? `The ${what} is ready. It can be downloaded until ${until} (7 days); every download is recorded in the GDPR audit log.`
        : `Your ${what} is ready. Download it before ${until}.`,
    resourceType: 'export_job',
    resourceId: ref.exportJobId,
    data: { type: ref.type, format: ref.format, rows: done.rows, bytes: done.bytes, expires_at: done.expiresAt.toISOString() },
    dedupeKey: `export:${ref.exportJobId}:ready`,
  };
}

/** Failures the user can fix, whose messages say how (the 500 MB cap, an unknown field, a GDPR export without its subject). */
const USER_ERRORS = new Set(['ExportTooLargeError', 'UnknownExportFieldError', 'InvalidExportError']);

/**
 * The final failure. An error of the request (USER_ERRORS) is the user's to fix and its message
 * says how; anything else is ours: the notice says so, without internals.
 */
export function exportFailedNotice(ref: ExportRef, err: unknown): UserNotice {
  const own = isPermanentError(err) && err instanceof Error && USER_ERRORS.has(err.name);
  const why = own ? `${(err as Error).message.replace(/\.$/, '')}.` : 'Something failed on our side; please try again later.';
  return {
    userId: recipient(ref.requestedBy),
    kind: 'export.failed',
    severity: 'error',
    title: 'Your export failed',
    body: `Your ${LABELS[ref.type]} export (${ref.format.toUpperCase()}) could not be created. ${why}`,
    resourceType: 'export_job',
    resourceId: ref.exportJobId,
    data: { type: ref.type, format: ref.format, error: err instanceof Error ? err.name : 'Error' },
    dedupeKey: `export:${ref.exportJobId}:failed`,
  };
}

function recipient(requestedBy: string | null | undefined): string | null {
  return requestedBy && UUID.test(requestedBy) ? requestedBy : null;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
