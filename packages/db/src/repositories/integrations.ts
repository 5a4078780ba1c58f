import type { Queryable } from '../pool.js';
import { eraseLeads, type LeadErasure } from './lead-deletion.js';
import { assertWorkspaceId } from './scope.js';

/**
 * CRM integrations (providers.md §11, domain.md §5 integration): connections with encrypted
 * tokens, sync state with a lease, the identity map, the outbox and user notices. Tokens reach
 * this module already encrypted (bytea); nothing here ever sees them in clear text.
 */

export type IntegrationProvider = 'hubspot' | 'salesforce';
export type SyncDirection = 'inbound' | 'outbound';
export type CursorType = 'timestamp' | 'sync_token' | 'delta_link' | 'after_id';

export interface IntegrationConnectionRow {
  id: string;
  workspace_id: string;
  provider: IntegrationProvider;
  status: 'active' | 'inactive' | 'error' | 'revoked' | 'expired';
  access_token_encrypted: Buffer | null;
  refresh_token_encrypted: Buffer | null;
  token_key_id: string | null;
  expires_at: Date | null;
  instance_url: string | null;
  portal_id: string | null;
  settings: Record<string, unknown>;
  sync_frequency_minutes: number;
  last_refreshed_at: Date | null;
}

const CONNECTION_COLUMNS = `id, workspace_id, provider, status, access_token_encrypted, refresh_token_encrypted, token_key_id,
  expires_at, instance_url, portal_id, settings, sync_frequency_minutes, last_refreshed_at`;

export interface EncryptedTokens {
  readonly accessToken: Buffer;
  /** undefined: keep the stored refresh token (providers that do not rotate it) */
  readonly refreshToken?: Buffer;
  readonly keyId: string;
  readonly expiresAt: Date;
}

/** The workspace's connection to a provider, or undefined. */
export async function getIntegrationConnection(
  db: Queryable,
  workspaceId: string,
  provider: IntegrationProvider,
): Promise<IntegrationConnectionRow | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<IntegrationConnectionRow>(
    `SELECT ${CONNECTION_COLUMNS} FROM integration_connections WHERE workspace_id = $1 AND provider = $2`,
    [workspaceId, provider],
  );
  return rows[0];
}

/** Creates or replaces the workspace's connection (the OAuth callback, seeds and tests); it starts active. */
export async function saveIntegrationConnection(
  db: Queryable,
  workspaceId: string,
  connection: {
    provider: IntegrationProvider;
    tokens: EncryptedTokens & { refreshToken: Buffer };
    portalId?: string;
    instanceUrl?: string;
    settings?: Record<string, unknown>;
    syncFrequencyMinutes?: number;
  },
): Promise<IntegrationConnectionRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<IntegrationConnectionRow>(
    `INSERT INTO integration_connections (workspace_id, provider, status, access_token_encrypted, refresh_token_encrypted, token_key_id, expires_at,
       portal_id, instance_url, settings, sync_frequency_minutes)
     VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (workspace_id, provider) DO UPDATE SET status = 'active', access_token_encrypted = EXCLUDED.access_token_encrypted,
       refresh_token_encrypted = EXCLUDED.refresh_token_encrypted, token_key_id = EXCLUDED.token_key_id, expires_at = EXCLUDED.expires_at,
       portal_id = EXCLUDED.portal_id, instance_url = EXCLUDED.instance_url, settings = EXCLUDED.settings,
       sync_frequency_minutes = EXCLUDED.sync_frequency_minutes, last_error = NULL,
       email_property_ready_at = CASE WHEN integration_connections.portal_id IS DISTINCT FROM EXCLUDED.portal_id THEN NULL
         ELSE integration_connections.email_property_ready_at END
     RETURNING ${CONNECTION_COLUMNS}`,
    [
      workspaceId,
      connection.provider,
      connection.tokens.accessToken,
      connection.tokens.refreshToken,
      connection.tokens.keyId,
      connection.tokens.expiresAt,
      connection.portalId ?? null,
      connection.instanceUrl ?? null,
      connection.settings ?? {},
      connection.syncFrequencyMinutes ?? 15,
    ],
  );
  return rows[0]!;
}

/**
 * Whether the connection's CRM was found to hold ColdCopy's email-activity property
 * (`coldcopy_email_id`); false when it was never checked, or HubSpot said since that it is missing.
 */
export async function emailPropertyReady(db: Queryable, workspaceId: string, provider: IntegrationProvider): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ ready: boolean }>(
    `SELECT email_property_ready_at IS NOT NULL AS ready FROM integration_connections WHERE workspace_id = $1 AND provider = $2`,
    [workspaceId, provider],
  );
  return rows[0]?.ready === true;
}

/** Records that the connection's CRM holds the email-activity property (ready), or that it must be checked again. */
export async function setEmailPropertyReady(db: Queryable, workspaceId: string, provider: IntegrationProvider, ready: boolean): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE integration_connections SET email_property_ready_at = CASE WHEN $3 THEN now() END WHERE workspace_id = $1 AND provider = $2`, [
    workspaceId,
    provider,
    ready,
  ]);
}

/**
 * Persists refreshed (or re-encrypted) tokens of an active connection. Returns false when the
 * connection is no longer active (revoked meanwhile): the caller must not use the tokens.
 */
export async function storeConnectionTokens(
  db: Queryable,
  workspaceId: string,
  connectionId: string,
  tokens: EncryptedTokens,
  refreshed = true,
): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `UPDATE integration_connections SET access_token_encrypted = $3, refresh_token_encrypted = coalesce($4, refresh_token_encrypted),
       token_key_id = $5, expires_at = $6, last_refreshed_at = CASE WHEN $7 THEN now() ELSE last_refreshed_at END, last_error = NULL
     WHERE workspace_id = $1 AND id = $2 AND status = 'active'`,
    [workspaceId, connectionId, tokens.accessToken, tokens.refreshToken ?? null, tokens.keyId, tokens.expiresAt, refreshed],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * A revoked or invalid grant: the connection stops (status `revoked`, tokens wiped) and one open
 * notice asks the user to reconnect. Returns true for the call that changed the state.
 */
export async function deactivateConnection(
  db: Queryable,
  workspaceId: string,
  connectionId: string,
  reason: { status: 'revoked' | 'expired' | 'inactive'; message: string },
): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ provider: string }>(
    `WITH stopped AS (
       UPDATE integration_connections SET status = $3, last_error = $4, access_token_encrypted = NULL, refresh_token_encrypted = NULL
       WHERE workspace_id = $1 AND id = $2 AND status = 'active'
       RETURNING provider
     ), notice AS (
       INSERT INTO integration_notices (workspace_id, provider, connection_id, kind, message)
       SELECT $1, provider, $2, 'reconnect_required', $4 FROM stopped
       ON CONFLICT (workspace_id, provider, kind) WHERE resolved_at IS NULL DO NOTHING
     )
     SELECT provider FROM stopped`,
    [workspaceId, connectionId, reason.status, reason.message.slice(0, 500)],
  );
  return rows.length > 0;
}

export interface IntegrationNoticeRow {
  id: string;
  provider: string;
  connection_id: string | null;
  kind: 'reconnect_required' | 'token_expiring' | 'sync_failing';
  message: string;
  created_at: Date;
}

/** Opens a notice (at most one open per workspace, provider and kind). Returns true when it is new. */
export async function openIntegrationNotice(
  db: Queryable,
  workspaceId: string,
  notice: { provider: string; kind: IntegrationNoticeRow['kind']; message: string; connectionId?: string },
): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `INSERT INTO integration_notices (workspace_id, provider, connection_id, kind, message) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (workspace_id, provider, kind) WHERE resolved_at IS NULL DO NOTHING`,
    [workspaceId, notice.provider, notice.connectionId ?? null, notice.kind, notice.message.slice(0, 500)],
  );
  return (rowCount ?? 0) > 0;
}

/** The workspace's open notices, newest first. */
export async function listOpenIntegrationNotices(db: Queryable, workspaceId: string): Promise<IntegrationNoticeRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<IntegrationNoticeRow>(
    `SELECT id, provider, connection_id, kind, message, created_at FROM integration_notices
     WHERE workspace_id = $1 AND resolved_at IS NULL ORDER BY created_at DESC`,
    [workspaceId],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Sync state with a lease

export interface SyncStateKey {
  readonly provider: string;
  readonly objectType: string;
  readonly direction: SyncDirection;
  readonly cursorType: CursorType;
}

export interface SyncStateRow {
  id: string;
  cursor_type: CursorType;
  cursor_value: string | null;
  high_watermark: Date | null;
  last_full_sync_at: Date | null;
  last_success_at: Date | null;
  lease_owner: string | null;
  error_count: number;
}

const STATE_COLUMNS = 'id, cursor_type, cursor_value, high_watermark, last_full_sync_at, last_success_at, lease_owner, error_count';

/**
 * Takes the lease of one sync state (created on first use) for `leaseMs`: undefined while another
 * owner's lease runs. The same owner may take it again (a retried attempt).
 */
export async function acquireSyncLease(
  db: Queryable,
  workspaceId: string,
  key: SyncStateKey,
  owner: string,
  leaseMs: number,
): Promise<SyncStateRow | undefined> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `INSERT INTO integration_sync_state (workspace_id, provider, object_type, direction, cursor_type) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (workspace_id, provider, object_type, direction) DO NOTHING`,
    [workspaceId, key.provider, key.objectType, key.direction, key.cursorType],
  );
  const { rows } = await db.query<SyncStateRow>(
    `UPDATE integration_sync_state SET lease_owner = $5, lease_expires_at = now() + make_interval(secs => $6::double precision / 1000), status = 'running'
     WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND direction = $4
       AND (lease_owner IS NULL OR lease_owner = $5 OR lease_expires_at < now())
     RETURNING ${STATE_COLUMNS}`,
    [workspaceId, key.provider, key.objectType, key.direction, owner, leaseMs],
  );
  return rows[0];
}

/** The lease was taken over by another owner (ours expired): the page's transaction must roll back. */
export class SyncLeaseLostError extends Error {
  override name = 'SyncLeaseLostError';
  constructor(readonly stateId: string) {
    super(`the lease of sync state ${stateId} was lost`);
  }
}

/**
 * Moves the cursor inside the transaction that committed the page it covers, and extends the
 * lease. Throws SyncLeaseLostError when the lease is no longer ours (nothing is written).
 */
export async function advanceSyncCursor(
  db: Queryable,
  workspaceId: string,
  stateId: string,
  owner: string,
  cursor: { value: string | null; highWatermark?: Date; fullSync?: boolean; leaseMs: number },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `UPDATE integration_sync_state SET cursor_value = $4, high_watermark = coalesce($5, high_watermark),
       last_full_sync_at = CASE WHEN $6 THEN now() ELSE last_full_sync_at END,
       lease_expires_at = now() + make_interval(secs => $7::double precision / 1000)
     WHERE workspace_id = $1 AND id = $2 AND lease_owner = $3`,
    [workspaceId, stateId, owner, cursor.value, cursor.highWatermark ?? null, cursor.fullSync ?? false, cursor.leaseMs],
  );
  if (!rowCount) throw new SyncLeaseLostError(stateId);
}

/** Ends a run: success resets the error count; failure counts it and keeps the message. */
export async function releaseSyncLease(
  db: Queryable,
  workspaceId: string,
  stateId: string,
  owner: string,
  outcome: { ok: true } | { ok: false; error: string },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    outcome.ok
      ? `UPDATE integration_sync_state SET lease_owner = NULL, lease_expires_at = NULL, status = 'idle', last_success_at = now(), error_count = 0, last_error = NULL
         WHERE workspace_id = $1 AND id = $2 AND lease_owner = $3`
      : `UPDATE integration_sync_state SET lease_owner = NULL, lease_expires_at = NULL, status = 'error', error_count = error_count + 1, last_error = $4
         WHERE workspace_id = $1 AND id = $2 AND lease_owner = $3`,
    outcome.ok ? [workspaceId, stateId, owner] : [workspaceId, stateId, owner, outcome.error.slice(0, 1000)],
  );
}

// ---------------------------------------------------------------------------------------------
// Identity map

export interface ObjectMapRow {
  local_id: string;
  remote_id: string;
  remote_version: string | null;
  last_synced_hash: string | null;
  deleted_at: Date | null;
}

export interface ObjectMapScope {
  readonly provider: string;
  readonly objectType: string;
}

/** Map rows of these local ids. */
export async function objectMapByLocal(db: Queryable, workspaceId: string, scope: ObjectMapScope, localIds: readonly string[]): Promise<ObjectMapRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<ObjectMapRow>(
    `SELECT local_id, remote_id, remote_version, last_synced_hash, deleted_at FROM integration_object_map
     WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND local_id = ANY($4::uuid[])`,
    [workspaceId, scope.provider, scope.objectType, localIds],
  );
  return rows;
}

/** Map rows of these remote ids. */
export async function objectMapByRemote(db: Queryable, workspaceId: string, scope: ObjectMapScope, remoteIds: readonly string[]): Promise<ObjectMapRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<ObjectMapRow>(
    `SELECT local_id, remote_id, remote_version, last_synced_hash, deleted_at FROM integration_object_map
     WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND remote_id = ANY($4::text[])`,
    [workspaceId, scope.provider, scope.objectType, remoteIds],
  );
  return rows;
}

export interface ObjectMapWrite {
  readonly localId: string;
  readonly remoteId: string;
  readonly hash: string;
  readonly remoteVersion: string | null;
}

/**
 * Records what was last synced per object (the hash of its mapped fields: echo suppression).
 * `direction` says which timestamp moves; a new row's origin is the side it came from.
 */
export async function recordObjectMaps(
  db: Queryable,
  workspaceId: string,
  scope: ObjectMapScope,
  direction: 'push' | 'pull',
  writes: readonly ObjectMapWrite[],
): Promise<void> {
  assertWorkspaceId(workspaceId);
  if (writes.length === 0) return;
  const pushed = direction === 'push';
  await db.query(
    `INSERT INTO integration_object_map (workspace_id, provider, object_type, local_id, remote_id, last_synced_hash, remote_version, origin, last_pushed_at, last_pulled_at)
     SELECT $1, $2, $3, w.local_id, w.remote_id, w.hash, w.version, $8, CASE WHEN $9 THEN now() END, CASE WHEN $9 THEN NULL ELSE now() END
     FROM unnest($4::uuid[], $5::text[], $6::text[], $7::text[]) AS w(local_id, remote_id, hash, version)
     ON CONFLICT (workspace_id, provider, object_type, local_id) DO UPDATE SET remote_id = EXCLUDED.remote_id,
       last_synced_hash = EXCLUDED.last_synced_hash, remote_version = coalesce(EXCLUDED.remote_version, integration_object_map.remote_version),
       last_pushed_at = coalesce(EXCLUDED.last_pushed_at, integration_object_map.last_pushed_at),
       last_pulled_at = coalesce(EXCLUDED.last_pulled_at, integration_object_map.last_pulled_at), deleted_at = NULL`,
    [
      workspaceId,
      scope.provider,
      scope.objectType,
      writes.map((w) => w.localId),
      writes.map((w) => w.remoteId),
      writes.map((w) => w.hash),
      writes.map((w) => w.remoteVersion),
      pushed ? 'local' : 'remote',
      pushed,
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// Outbox

export type OutboxOperation = 'upsert' | 'delete' | 'privacy_delete';

/**
 * Records local changes for a provider, in the caller's transaction (the one that changed the
 * rows). A change to an object that already has a pending row of the same operation bumps that
 * row's change_seq instead of adding one (partial unique index on pending rows). Returns how many
 * rows were added or bumped.
 */
export async function enqueueOutbox(
  db: Queryable,
  workspaceId: string,
  change: { provider: string; objectType: string; operation: OutboxOperation; localIds: readonly string[] },
): Promise<number> {
  assertWorkspaceId(workspaceId);
  if (change.localIds.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO integration_outbox (workspace_id, provider, object_type, operation, local_id)
     SELECT $1, $2, $3, $4, id FROM unnest($5::uuid[]) AS t(id)
     ON CONFLICT (workspace_id, provider, object_type, local_id, operation) WHERE status = 'pending'
     DO UPDATE SET change_seq = integration_outbox.change_seq + 1`,
    [workspaceId, change.provider, change.objectType, change.operation, [...new Set(change.localIds)]],
  );
  return rowCount ?? 0;
}

export interface OutboxRow {
  id: string;
  local_id: string;
  operation: OutboxOperation;
  change_seq: number;
  attempts: number;
  payload: Record<string, unknown>;
  /**
   * an earlier claim of the row was neither settled nor given back (its drain died, or kept the
   * claim after a call whose outcome it could not know): the provider may already hold the write
   */
  in_doubt: boolean;
}

/**
 * Claims up to `limit` pending rows due by `dueBy` (oldest first) for `claimMs`; rows claimed by a
 * live drain are skipped; rows of the same owner are taken back (a retried attempt of the job whose
 * worker died). A drain passes its start time, so a row it refused waits for the next one. A row
 * whose previous claim was never settled nor released comes back `in_doubt`.
 */
export async function claimOutbox(
  db: Queryable,
  workspaceId: string,
  scope: { provider: string; objectType: string; operation: OutboxOperation; owner: string; limit: number; claimMs: number; dueBy: Date },
): Promise<OutboxRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<OutboxRow>(
    `WITH c AS (
       SELECT id, claimed_until IS NOT NULL AS in_doubt FROM integration_outbox
       WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND operation = $7 AND status = 'pending' AND available_at <= $8
         AND (claimed_until IS NULL OR claimed_until < now() OR claimed_by = $4)
       ORDER BY created_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
     UPDATE integration_outbox o SET claimed_by = $4, claimed_until = now() + make_interval(secs => $6::double precision / 1000)
     FROM c WHERE o.id = c.id
     RETURNING o.id, o.local_id, o.operation, o.change_seq, o.attempts, o.payload, c.in_doubt`,
    [workspaceId, scope.provider, scope.objectType, scope.owner, scope.limit, scope.claimMs, scope.operation, scope.dueBy],
  );
  return rows.sort((a, b) => a.local_id.localeCompare(b.local_id));
}

export interface OutboxFailure {
  readonly id: string;
  readonly error: string;
  /** when the row may be tried again */
  readonly retryInMs: number;
}

/**
 * Settles a claimed batch: sent rows become done (unless a newer change bumped their change_seq
 * meanwhile: then they stay pending for the next drain), failed rows count an attempt and wait,
 * and turn `failed` after `maxAttempts`. Every claim of `owner` in the batch is released.
 */
export async function settleOutbox(
  db: Queryable,
  workspaceId: string,
  owner: string,
  result: { sent: ReadonlyArray<{ id: string; changeSeq: number }>; failed: readonly OutboxFailure[]; maxAttempts: number },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  if (result.sent.length) {
    await db.query(
      `UPDATE integration_outbox o SET status = CASE WHEN o.change_seq = s.seq THEN 'done' ELSE 'pending' END,
         processed_at = CASE WHEN o.change_seq = s.seq THEN now() END, claimed_by = NULL, claimed_until = NULL, last_error = NULL
       FROM unnest($3::uuid[], $4::int[]) AS s(id, seq)
       WHERE o.workspace_id = $1 AND o.id = s.id AND o.claimed_by = $2`,
      [workspaceId, owner, result.sent.map((s) => s.id), result.sent.map((s) => s.changeSeq)],
    );
  }
  if (result.failed.length) {
    await db.query(
      `UPDATE integration_outbox o SET attempts = o.attempts + 1, last_error = f.error,
         status = CASE WHEN o.attempts + 1 >= $6 THEN 'failed' ELSE 'pending' END,
         processed_at = CASE WHEN o.attempts + 1 >= $6 THEN now() END,
         available_at = now() + make_interval(secs => f.wait::double precision / 1000), claimed_by = NULL, claimed_until = NULL
       FROM unnest($3::uuid[], $4::text[], $5::int[]) AS f(id, error, wait)
       WHERE o.workspace_id = $1 AND o.id = f.id AND o.claimed_by = $2`,
      [
        workspaceId,
        owner,
        result.failed.map((f) => f.id),
        result.failed.map((f) => f.error.slice(0, 1000)),
        result.failed.map((f) => Math.round(f.retryInMs)),
        result.maxAttempts,
      ],
    );
  }
}

/** Gives claimed rows back untouched (a rate-limit answer: nothing was written). */
export async function releaseOutboxClaims(db: Queryable, workspaceId: string, owner: string, ids: readonly string[]): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE integration_outbox SET claimed_by = NULL, claimed_until = NULL WHERE workspace_id = $1 AND claimed_by = $2 AND id = ANY($3::uuid[])`, [
    workspaceId,
    owner,
    ids,
  ]);
}

/** Which of these local ids have a pending outbox row of the scope and operation (due or not). */
export async function pendingOutboxLocalIds(
  db: Queryable,
  workspaceId: string,
  scope: { provider: string; objectType: string; operation: OutboxOperation },
  localIds: readonly string[],
): Promise<Set<string>> {
  assertWorkspaceId(workspaceId);
  if (localIds.length === 0) return new Set();
  const { rows } = await db.query<{ local_id: string }>(
    `SELECT local_id FROM integration_outbox
     WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND operation = $4 AND status = 'pending' AND local_id = ANY($5::uuid[])`,
    [workspaceId, scope.provider, scope.objectType, scope.operation, localIds],
  );
  return new Set(rows.map((r) => r.local_id));
}

/** Pending outbox rows of a provider (due or not): for metrics and tests. */
export async function countPendingOutbox(db: Queryable, workspaceId: string, provider: string): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM integration_outbox WHERE workspace_id = $1 AND provider = $2 AND status = 'pending'`,
    [workspaceId, provider],
  );
  return rows[0]!.n;
}

// ---------------------------------------------------------------------------------------------
// Leads in and out

/** Lead columns a CRM mapping may read or write (the names are interpolated: this list is the guard). */
export const SYNCABLE_LEAD_COLUMNS = [
  'first_name',
  'last_name',
  'company',
  'title',
  'phone',
  'website',
  'linkedin_url',
  'location',
  'industry',
  'status',
  'last_contacted_at',
] as const;
export type SyncableLeadColumn = (typeof SYNCABLE_LEAD_COLUMNS)[number];

export type SyncLead = { id: string; email: string; deleted_at: Date | null } & Record<SyncableLeadColumn, string | null>;

/** The leads of these ids with their syncable columns (timestamps as ISO text). */
export async function leadsForSync(db: Queryable, workspaceId: string, ids: readonly string[]): Promise<SyncLead[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<SyncLead>(
    `SELECT id, email, deleted_at, ${SYNCABLE_LEAD_COLUMNS.map((c) => (c === 'last_contacted_at' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${c}` : c)).join(', ')}
     FROM leads WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
    [workspaceId, ids],
  );
  return rows;
}

export interface InboundLead {
  readonly email: string;
  /** only the columns the mapping lets the provider write */
  readonly fields: Partial<Record<SyncableLeadColumn, string | null>>;
}

/**
 * Applies leads pulled from a provider: inserted by (workspace, email) or updated in the given
 * columns only. Does not touch the outbox (a pulled change must not be pushed back). Returns the
 * local id of each email.
 */
export async function applyInboundLeads(
  db: Queryable,
  workspaceId: string,
  columns: readonly SyncableLeadColumn[],
  leads: readonly InboundLead[],
): Promise<Map<string, string>> {
  assertWorkspaceId(workspaceId);
  if (leads.length === 0) return new Map();
  const cols = columns.filter((c) => (SYNCABLE_LEAD_COLUMNS as readonly string[]).includes(c) && c !== 'last_contacted_at' && c !== 'status');
  // one row per address (a page may hold the same address twice: the last wins)
  const byEmail = new Map(leads.map((l) => [l.email.trim().toLowerCase(), l]));
  const records = [...byEmail].map(([email, l]) => ({ email, ...Object.fromEntries(cols.map((c) => [c, l.fields[c] ?? null])) }));
  const { rows } = await db.query<{ id: string; email: string }>(
    `INSERT INTO leads (workspace_id, email${cols.map((c) => `, ${c}`).join('')})
     SELECT $1, r.email${cols.map((c) => `, r.${c}`).join('')} FROM jsonb_to_recordset($2::jsonb) AS r(email text${cols.map((c) => `, ${c} text`).join('')})
     ON CONFLICT (workspace_id, email) DO UPDATE SET updated_at = now()${cols.map((c) => `, ${c} = EXCLUDED.${c}`).join('')}
     RETURNING id, email`,
    [workspaceId, JSON.stringify(records)],
  );
  return new Map(rows.map((r) => [r.email, r.id]));
}

// ---------------------------------------------------------------------------------------------
// Email activity (the outbox rows the crm_email_activity triggers add: object_type 'emails')

export type EmailActivityKind = 'sent' | 'reply';

export interface EmailActivity {
  /** campaign_emails.id (sent) or email_messages.id (reply): the outbox row's local_id */
  id: string;
  kind: EmailActivityKind;
  lead_id: string;
  subject: string | null;
  text: string | null;
  from_email: string | null;
  to_email: string | null;
  at: Date;
  message_id: string | null;
}

/**
 * The sent emails and received replies of these ids whose lead still exists (not deleted): a
 * ledger row that is `sent`, an inbound message whose lead is the send's it answers (else its
 * thread's).
 */
export async function emailActivitiesForSync(
  db: Queryable,
  workspaceId: string,
  ids: { readonly sent: readonly string[]; readonly reply: readonly string[] },
): Promise<EmailActivity[]> {
  assertWorkspaceId(workspaceId);
  if (ids.sent.length === 0 && ids.reply.length === 0) return [];
  const { rows } = await db.query<EmailActivity>(
    `SELECT ce.id, 'sent' AS kind, ce.lead_id, ce.subject, ce.content_text AS text, ce.from_email, l.email AS to_email,
            coalesce(ce.sent_at, ce.updated_at) AS at, ce.message_id
     FROM campaign_emails ce JOIN leads l ON l.workspace_id = ce.workspace_id AND l.id = ce.lead_id AND l.deleted_at IS NULL
     WHERE ce.workspace_id = $1 AND ce.id = ANY($2::uuid[]) AND ce.status = 'sent'
     UNION ALL
     SELECT m.id, 'reply', l.id, m.subject, m.body_text, m.from_email, m.to_emails[1], coalesce(m.received_at, m.created_at), m.message_id
     FROM email_messages m
     JOIN email_threads t ON t.workspace_id = m.workspace_id AND t.id = m.thread_id
     LEFT JOIN campaign_emails ce ON ce.workspace_id = m.workspace_id
       AND ce.id = CASE WHEN m.metadata->>'campaign_email_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN (m.metadata->>'campaign_email_id')::uuid END
     JOIN leads l ON l.workspace_id = m.workspace_id AND l.id = coalesce(ce.lead_id, t.lead_id) AND l.deleted_at IS NULL
     WHERE m.workspace_id = $1 AND m.id = ANY($3::uuid[]) AND m.direction = 'inbound'`,
    [workspaceId, ids.sent, ids.reply],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Sync log

export interface SyncLogEntry {
  readonly provider: string;
  readonly syncType: string;
  readonly direction: SyncDirection;
  readonly status: 'completed' | 'failed' | 'partial';
  readonly processed: number;
  readonly succeeded: number;
  readonly failed: number;
  /** per-record errors (ids and messages, never field values) */
  readonly errors: ReadonlyArray<{ id: string; error: string }>;
  readonly cursorBefore?: string | null;
  readonly cursorAfter?: string | null;
  readonly startedAt: Date;
}

/** One finished run (integration_sync_logs, kept 7-30 days by retention). */
export async function recordSyncLog(db: Queryable, workspaceId: string, entry: SyncLogEntry): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `INSERT INTO integration_sync_logs (workspace_id, provider, sync_type, direction, status, processed, succeeded, failed, errors, cursor_before, cursor_after, started_at, completed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())`,
    [
      workspaceId,
      entry.provider,
      entry.syncType,
      entry.direction,
      entry.status,
      entry.processed,
      entry.succeeded,
      entry.failed,
      JSON.stringify(entry.errors.slice(0, 100)),
      entry.cursorBefore ?? null,
      entry.cursorAfter ?? null,
      entry.startedAt,
    ],
  );
}

/**
 * Records deleted at the provider soft-delete their mapped leads (providers.md §11.7: soft-delete
 * and unmap), in the caller's transaction, before unmapRemoteDeleted closes the maps; a soft
 * delete is not passed on to the other CRMs. With `erasure` (a privacy deletion at the provider)
 * the leads are erased instead (eraseLeads: suppressed, anonymised, audited, and a privacy
 * deletion queued for the workspace's other CRMs). Returns how many leads were deleted or erased.
 */
export async function softDeleteLeadsOfRemote(
  db: Queryable,
  workspaceId: string,
  scope: ObjectMapScope,
  remoteIds: readonly string[],
  erasure?: LeadErasure,
): Promise<number> {
  assertWorkspaceId(workspaceId);
  if (remoteIds.length === 0) return 0;
  if (erasure) {
    const ids = (await objectMapByRemote(db, workspaceId, scope, remoteIds)).filter((m) => !m.deleted_at).map((m) => m.local_id);
    return (await eraseLeads(db, workspaceId, ids, erasure)).length;
  }
  const { rowCount } = await db.query(
    `UPDATE leads l SET deleted_at = now() FROM integration_object_map m
     WHERE m.workspace_id = $1 AND m.provider = $2 AND m.object_type = $3 AND m.remote_id = ANY($4::text[]) AND m.deleted_at IS NULL
       AND l.workspace_id = $1 AND l.id = m.local_id AND l.deleted_at IS NULL`,
    [workspaceId, scope.provider, scope.objectType, remoteIds],
  );
  return rowCount ?? 0;
}

/** Records deleted at the provider: unmapped (soft), the local lead is kept. Returns how many maps were open. */
export async function unmapRemoteDeleted(db: Queryable, workspaceId: string, scope: ObjectMapScope, remoteIds: readonly string[]): Promise<number> {
  assertWorkspaceId(workspaceId);
  if (remoteIds.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE integration_object_map SET deleted_at = now(), last_synced_hash = NULL
     WHERE workspace_id = $1 AND provider = $2 AND object_type = $3 AND remote_id = ANY($4::text[]) AND deleted_at IS NULL`,
    [workspaceId, scope.provider, scope.objectType, remoteIds],
  );
  return rowCount ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Schedulers (global: the fan-out of a schedule over every tenant; each job it enqueues is scoped)

export interface DueConnection {
  id: string;
  workspace_id: string;
}

/**
 * Active connections of a provider due for a scheduled run, a page at a time (keyset on id). With
 * `pullObjectType` only those whose inbound sync of that object last succeeded at least
 * `sync_frequency_minutes` ago (less `toleranceMs`, so a run that ended just after its tick is not
 * skipped a whole period), or never; without it every active connection (the outbox drain).
 */
export async function dueIntegrationConnections(
  db: Queryable,
  provider: string,
  page: { afterId?: string; limit: number; pullObjectType?: string; toleranceMs?: number },
): Promise<DueConnection[]> {
  const { rows } = await db.query<DueConnection>(
    `SELECT c.id, c.workspace_id FROM integration_connections c
     LEFT JOIN integration_sync_state s ON s.workspace_id = c.workspace_id AND s.provider = c.provider AND s.object_type = $4 AND s.direction = 'inbound'
     WHERE c.provider = $1 AND c.status = 'active' AND c.id > coalesce($2::uuid, '00000000-0000-0000-0000-000000000000'::uuid)
       AND ($4::text IS NULL OR s.last_success_at IS NULL
            OR s.last_success_at <= now() - make_interval(mins => c.sync_frequency_minutes) + make_interval(secs => $5::double precision / 1000))
     ORDER BY c.id LIMIT $3`,
    [provider, page.afterId ?? null, page.limit, page.pullObjectType ?? null, page.toleranceMs ?? 60_000],
  );
  return rows;
}

/**
 * How far the most overdue active connection of a provider is behind its own frequency: seconds
 * since its inbound sync of `objectType` last succeeded (or since it was connected) minus
 * `sync_frequency_minutes`; 0 when none is late (the sync-lag alert's gauge).
 */
export async function integrationSyncOverdueSeconds(db: Queryable, provider: string, objectType: string): Promise<number> {
  const { rows } = await db.query<{ overdue: number }>(
    `SELECT coalesce(max(greatest(0, extract(epoch FROM now() - coalesce(s.last_success_at, c.created_at)) - c.sync_frequency_minutes * 60)), 0)::float8 AS overdue
     FROM integration_connections c
     LEFT JOIN integration_sync_state s ON s.workspace_id = c.workspace_id AND s.provider = c.provider AND s.object_type = $2 AND s.direction = 'inbound'
     WHERE c.provider = $1 AND c.status = 'active'`,
    [provider, objectType],
  );
  return rows[0]!.overdue;
}
