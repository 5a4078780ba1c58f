import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/**
 * In-app notices to users (migration user_notices): what the web app lists under the bell. Written
 * by a worker in the transaction of the state it reports; `dedupeKey` makes a retried or re-run
 * job notify once. Never put a URL or a secret in a notice: name the resource instead.
 */
export interface UserNotice {
  /** the recipient (auth user id); null: every member of the workspace */
  readonly userId: string | null;
  /** dotted, e.g. `export.ready`, `export.failed`, `integration.disconnected` */
  readonly kind: string;
  readonly severity: 'info' | 'success' | 'warning' | 'error';
  readonly title: string;
  readonly body: string;
  readonly resourceType?: string;
  readonly resourceId?: string;
  /** figures for the web app to render (never a URL or a secret) */
  readonly data?: Record<string, unknown>;
  /** unique per workspace, e.g. `export:<id>:ready` */
  readonly dedupeKey: string;
}

export interface UserNoticeRow {
  id: string;
  workspace_id: string;
  user_id: string | null;
  kind: string;
  severity: UserNotice['severity'];
  title: string;
  body: string;
  resource_type: string | null;
  resource_id: string | null;
  data: Record<string, unknown>;
  dedupe_key: string;
  read_at: Date | null;
  created_at: Date;
}

/** Adds the notice unless one with its dedupe key exists; true when this call added it. */
export async function insertUserNotice(db: Queryable, workspaceId: string, notice: UserNotice): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `INSERT INTO user_notices (workspace_id, user_id, kind, severity, title, body, resource_type, resource_id, data, dedupe_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (workspace_id, dedupe_key) DO NOTHING`,
    [
      workspaceId,
      notice.userId,
      notice.kind,
      notice.severity,
      notice.title.slice(0, 200),
      notice.body.slice(0, 2000),
      notice.resourceType ?? null,
      notice.resourceId ?? null,
      JSON.stringify(notice.data ?? {}),
      notice.dedupeKey,
    ],
  );
  return rowCount === 1;
}

/** The notices of a workspace about one resource, oldest first (tests, support). */
export async function listUserNotices(db: Queryable, workspaceId: string, resourceId: string): Promise<UserNoticeRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<UserNoticeRow>('SELECT * FROM user_notices WHERE workspace_id = $1 AND resource_id = $2 ORDER BY created_at, id', [
    workspaceId,
    resourceId,
  ]);
  return rows;
}
