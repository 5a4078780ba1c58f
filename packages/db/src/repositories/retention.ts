import type { PoolClient } from 'pg';
import { listEmailEventsPartitions } from '../maintenance.js';
import { type Pool, type Queryable, withTransaction } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/*
 * Retention (cleanup-old-data, docs/schedules-and-retention.md). Every rule is a set of targets;
 * each target counts (dry run) and applies (small batches, each its own short transaction under a
 * statement and lock timeout) with the same predicate, so a dry run reports exactly what a run
 * would change. Predicates are cutoff-based and exclude rows already handled (anonymisation
 * markers, soft-delete flags, statuses), so a second run changes nothing.
 *
 * Targets of one rule never overlap those of an earlier rule of the same run: the email_events row
 * rule stops at the partition floor (older months are dropped whole by the partition rule), and
 * the unsubscribed-lead purge counts only the events the email_events rule leaves.
 */

export const RETENTION_RULES = [
  'email_event_partitions',
  'email_events',
  'campaign_email_content',
  'enriched_data',
  'enrichment_cache',
  'inactive_leads',
  'unsubscribed_leads',
  'audit_logs',
  'gdpr_audit_logs',
  'data_subject_requests',
  'gdpr_exports',
  'analytics_events',
  'webhook_dedupe',
  'job_tables',
  'materialized_view_refresh_log',
  'consent_expiry',
] as const;
export type RetentionRule = (typeof RETENTION_RULES)[number];

export type RetentionAction = 'deleted' | 'anonymized' | 'soft_deleted' | 'expired' | 'archived' | 'suppressed' | 'dropped' | 'created';

const DAY_MS = 86_400_000;

/** Default retention in days per rule (docs/schedules-and-retention.md). */
export const RETENTION_DEFAULT_DAYS = {
  email_events: 365,
  campaign_email_content: 730,
  enriched_data: 365,
  inactive_leads: 1095,
  unsubscribed_leads: 180,
  audit_logs: 2555,
  gdpr_audit_logs: 2555,
  data_subject_requests: 90,
  analytics_events: 90,
  webhook_dedupe: 30,
  materialized_view_refresh_log: 365,
  enrichment_jobs: 30,
  integration_outbox: 7,
  integration_sync_logs: 30,
  calendar_sync_logs: 30,
} as const;

/**
 * Rules a workspace may tune with a `data_retention_policies` row (data_type = rule name): its
 * `retention_days` replaces the default, `is_active = false` turns the rule off for the
 * workspace. `workspaces.settings.keep_all_data = true` turns these off too (a missing key means
 * false: ColdCopy's `NOT (settings->>'keep_all_data')::boolean` was NULL and skipped everyone).
 * The unsubscribed-lead purge is not among them: it is owed to the lead, whatever the workspace wants.
 */
export const POLICY_RULES = ['email_events', 'campaign_email_content', 'enriched_data', 'inactive_leads', 'analytics_events'] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

export interface WorkspaceRetention {
  readonly workspaceId: string;
  readonly keepAllData: boolean;
  /** active policy rows by data_type */
  readonly policies: ReadonlyMap<string, { readonly retentionDays: number; readonly isActive: boolean }>;
}

/** Every workspace with its retention settings, oldest first. */
export async function listWorkspaceRetention(db: Queryable): Promise<WorkspaceRetention[]> {
  const { rows } = await db.query<{ id: string; keep_all_data: boolean; policies: Array<{ data_type: string; retention_days: number; is_active: boolean }> }>(
    `SELECT w.id,
            coalesce((w.settings->>'keep_all_data')::boolean, false) AS keep_all_data,
            coalesce((SELECT json_agg(json_build_object('data_type', p.data_type, 'retention_days', p.retention_days, 'is_active', p.is_active))
                      FROM data_retention_policies p WHERE p.workspace_id = w.id), '[]'::json) AS policies
     FROM workspaces w ORDER BY w.created_at, w.id`,
  );
  return rows.map((r) => ({
    workspaceId: r.id,
    keepAllData: r.keep_all_data,
    policies: new Map(r.policies.map((p) => [p.data_type, { retentionDays: p.retention_days, isActive: p.is_active }])),
  }));
}

/** Days a workspace keeps a policy rule's data; null when the rule is off for it. */
export function effectiveRetentionDays(ws: WorkspaceRetention, rule: PolicyRule): number | null {
  if (ws.keepAllData) return null;
  const policy = ws.policies.get(rule);
  if (policy && !policy.isActive) return null;
  return policy?.retentionDays ?? RETENTION_DEFAULT_DAYS[rule];
}

export const cutoffDays = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);

/** First instant of the month `months` before now's month (UTC): the email_events partition floor. */
export function partitionFloor(now: Date, months: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - months, 1));
}

/** Stamps last_run_at / last_affected_rows on the workspace's policy row for the rule, if it has one. */
export async function touchRetentionPolicy(db: Queryable, workspaceId: string, rule: string, affected: number, at: Date): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE data_retention_policies SET last_run_at = $3, last_affected_rows = $4 WHERE workspace_id = $1 AND data_type = $2`, [
    workspaceId,
    rule,
    at,
    affected,
  ]);
}

export interface RetentionRunRow {
  readonly runId: string;
  readonly workspaceId: string | null;
  readonly rule: RetentionRule;
  readonly table: string;
  readonly action: RetentionAction;
  readonly affected: number;
  readonly cutoff: Date | null;
  readonly dryRun: boolean;
}

/**
 * Audit of one rule run: a retention_runs row always, and for workspace data that changed a
 * gdpr_audit_logs row with the system as the explicit actor (domain.md §8.7).
 */
export async function recordRetentionRun(db: Queryable, row: RetentionRunRow): Promise<void> {
  await db.query(
    `INSERT INTO retention_runs (run_id, workspace_id, rule, table_name, action, affected, cutoff, dry_run)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [row.runId, row.workspaceId, row.rule, row.table, row.action, row.affected, row.cutoff, row.dryRun],
  );
  if (row.workspaceId && !row.dryRun && row.affected > 0) {
    await db.query(
      `INSERT INTO gdpr_audit_logs (workspace_id, actor_type, action, resource_type, details)
       VALUES ($1, 'system', $2, $3, $4)`,
      [row.workspaceId, `retention.${row.action}`, row.table, { rule: row.rule, rows: row.affected, cutoff: row.cutoff, run_id: row.runId }],
    );
  }
}

/** Bounds for one batch transaction. */
export interface BatchLimits {
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
}

/** Runs `fn` in one short transaction with local statement and lock timeouts. */
export function inBoundedTransaction<T>(pool: Pool, limits: BatchLimits, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(`SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true)`, [
      String(limits.statementTimeoutMs),
      String(limits.lockTimeoutMs),
    ]);
    return fn(client);
  });
}

/*
 * Targets. `where` uses $1 = workspace id (or is global), then the target's own parameters.
 * Tables and predicates are constants of this file; nothing from a payload is interpolated.
 */
interface Target {
  readonly table: string;
  readonly action: RetentionAction;
  /** key columns of a batch */
  readonly key: readonly string[];
  /** predicate over alias t */
  readonly where: string;
  /** SET clause for updates; absent: delete */
  readonly set?: string;
}

/** A lead's personal data replaced by domain.md §7's placeholders (alias t): retention and GDPR erasure. */
export const LEAD_ANONYMIZED_SET = `email = 'anonymized-' || t.id || '@example.invalid', first_name = 'ANONYMIZED', last_name = 'ANONYMIZED',
          phone = NULL, title = NULL, linkedin_url = NULL, website = NULL, location = NULL,
          custom_fields = '{}'::jsonb, enrichment_data = '{}'::jsonb, tags = '{}', anonymized_at = now()`;

const T = {
  email_events: {
    table: 'email_events',
    action: 'deleted',
    key: ['id', 'created_at'],
    // [floor, cutoff): older rows sit in partitions the partition rule drops whole
    where: 't.workspace_id = $1 AND t.created_at < $2 AND t.created_at >= $3',
  },
  campaign_email_content: {
    table: 'campaign_emails',
    action: 'anonymized',
    key: ['id'],
    // sends still in flight keep their content
    where: `t.workspace_id = $1 AND t.content_anonymized_at IS NULL AND t.status NOT IN ('scheduled', 'sending', 'retryable')
            AND coalesce(t.sent_at, t.scheduled_at) < $2`,
    set: `subject = NULL, content_html = NULL, content_text = NULL, content_anonymized_at = now()`,
  },
  enriched_data: {
    table: 'enriched_data',
    action: 'soft_deleted',
    key: ['id'],
    where: 't.workspace_id = $1 AND t.deleted_at IS NULL AND t.created_at < $2',
    set: 'deleted_at = now()',
  },
  inactive_leads: {
    table: 'leads',
    action: 'anonymized',
    key: ['id'],
    // unsubscribed leads are the unsubscribed purge's; GREATEST ignores NULLs
    where: `t.workspace_id = $1 AND t.anonymized_at IS NULL AND t.status <> 'unsubscribed'
            AND GREATEST(t.created_at, t.last_activity_at, t.last_contacted_at) < $2`,
    set: LEAD_ANONYMIZED_SET,
  },
  data_subject_requests: {
    table: 'data_subject_requests',
    action: 'deleted',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status = 'completed' AND coalesce(t.completed_at, t.updated_at) < $2`,
  },
  analytics_events: {
    table: 'analytics_events',
    action: 'deleted',
    key: ['id'],
    where: 't.workspace_id = $1 AND t.created_at < $2',
  },
  enrichment_jobs: {
    table: 'enrichment_jobs',
    action: 'deleted',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status IN ('completed', 'failed', 'cancelled') AND t.completed_at < $2`,
  },
  integration_outbox: {
    table: 'integration_outbox',
    action: 'deleted',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status IN ('done', 'failed') AND t.processed_at < $2`,
  },
  integration_sync_logs: {
    table: 'integration_sync_logs',
    action: 'deleted',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status <> 'running' AND t.created_at < $2`,
  },
  calendar_sync_logs: {
    table: 'calendar_sync_logs',
    action: 'deleted',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status <> 'running' AND t.created_at < $2`,
  },
  consent_expiry: {
    table: 'consent_records',
    action: 'expired',
    key: ['id'],
    where: `t.workspace_id = $1 AND t.status = 'granted' AND t.expires_at < $2`,
    set: `status = 'expired'`,
  },
  // global tables: $1 is the cutoff
  enrichment_cache: { table: 'enrichment_cache', action: 'deleted', key: ['id'], where: 't.expires_at < $1' },
  webhook_dedupe: { table: 'webhook_dedupe', action: 'deleted', key: ['provider', 'provider_event_id'], where: 't.received_at < $1' },
  materialized_view_refresh_log: { table: 'materialized_view_refresh_log', action: 'deleted', key: ['id'], where: 't.finished_at < $1' },
} as const satisfies Record<string, Target>;

export type RetentionTarget = keyof typeof T;
const GLOBAL_TARGETS = new Set<RetentionTarget>(['enrichment_cache', 'webhook_dedupe', 'materialized_view_refresh_log']);

export function targetTable(target: RetentionTarget): { table: string; action: RetentionAction } {
  return { table: T[target].table, action: T[target].action };
}

function targetParams(target: RetentionTarget, workspaceId: string | null, cutoff: Date, extra: unknown[]): unknown[] {
  if (GLOBAL_TARGETS.has(target)) return [cutoff];
  if (!workspaceId) throw new TypeError(`retention target ${target} needs a workspace`);
  assertWorkspaceId(workspaceId);
  return [workspaceId, cutoff, ...extra];
}

export interface TargetSelector {
  readonly target: RetentionTarget;
  /** null for global targets */
  readonly workspaceId: string | null;
  readonly cutoff: Date;
  /** email_events: the partition floor */
  readonly floor?: Date;
}

const extraOf = (s: TargetSelector) => (s.target === 'email_events' ? [s.floor ?? new Date(0)] : []);

/** Rows the target would change now. */
export async function countRetentionTarget(db: Queryable, s: TargetSelector): Promise<number> {
  const t: Target = T[s.target];
  const { rows } = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${t.table} t WHERE ${t.where}`,
    targetParams(s.target, s.workspaceId, s.cutoff, extraOf(s)),
  );
  return Number(rows[0]!.n);
}

/** Changes at most `limit` rows of the target; returns how many. */
export async function applyRetentionBatch(db: Queryable, s: TargetSelector, limit: number): Promise<number> {
  const t: Target = T[s.target];
  const params = targetParams(s.target, s.workspaceId, s.cutoff, extraOf(s));
  const join = t.key.map((k) => `t.${k} = b.${k}`).join(' AND ');
  const batch = `SELECT ${t.key.map((k) => `t.${k}`).join(', ')} FROM ${t.table} t WHERE ${t.where} LIMIT $${params.length + 1} FOR UPDATE SKIP LOCKED`;
  const sql = t.set
    ? `WITH b AS (${batch}) UPDATE ${t.table} t SET ${t.set} FROM b WHERE ${join}`
    : `WITH b AS (${batch}) DELETE FROM ${t.table} t USING b WHERE ${join}`;
  const result = await db.query(sql, [...params, limit]);
  return result.rowCount ?? 0;
}

/*
 * Unsubscribed leads: the lead row (its enrolments, sends, scores, consent and enriched data go
 * with it by cascade) and its email_events are deleted; a suppression row is added first when the
 * address has none, so the address stays suppressed (the suppression list is never purged).
 */
const UNSUBSCRIBED_LEADS = `
  SELECT l.id, l.email FROM leads l
  WHERE l.workspace_id = $1 AND l.status = 'unsubscribed'
    AND coalesce(
          (SELECT max(cl.unsubscribed_at) FROM campaign_leads cl WHERE cl.workspace_id = l.workspace_id AND cl.lead_id = l.id),
          (SELECT min(s.created_at) FROM suppression_list s WHERE s.workspace_id = l.workspace_id AND s.email = l.email),
          l.updated_at) < $2`;

const NOT_SUPPRESSED = `NOT EXISTS (SELECT 1 FROM suppression_list s WHERE (s.workspace_id = $1 AND s.email = u.email) OR (s.is_global AND s.email = u.email))`;

/** Ranges of email_events an earlier rule of the run already deletes: [from, to). */
export interface EventRange {
  readonly from: Date | null;
  readonly to: Date;
}

function outsideRanges(ranges: readonly EventRange[], firstParam: number): { sql: string; params: Date[] } {
  const parts: string[] = [];
  const params: Date[] = [];
  for (const r of ranges) {
    params.push(r.from ?? new Date(0), r.to);
    parts.push(`NOT (e.created_at >= $${firstParam + params.length - 2} AND e.created_at < $${firstParam + params.length - 1})`);
  }
  return { sql: parts.length ? ` AND ${parts.join(' AND ')}` : '', params };
}

export interface UnsubscribedCounts {
  leads: number;
  emailEvents: number;
  suppressionsAdded: number;
}

/**
 * What purging the workspace's unsubscribed leads would change; `covered` are the email_events
 * ranges an earlier rule of the same run deletes (not counted twice).
 */
export async function countUnsubscribedLeads(db: Queryable, workspaceId: string, cutoff: Date, covered: readonly EventRange[]): Promise<UnsubscribedCounts> {
  assertWorkspaceId(workspaceId);
  const ranges = outsideRanges(covered, 3);
  const { rows } = await db.query<{ leads: string; events: string; missing: string }>(
    `WITH u AS (${UNSUBSCRIBED_LEADS})
     SELECT (SELECT count(*) FROM u) AS leads,
            (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.lead_id IN (SELECT id FROM u)${ranges.sql}) AS events,
            (SELECT count(DISTINCT u.email) FROM u WHERE ${NOT_SUPPRESSED}) AS missing`,
    [workspaceId, cutoff, ...ranges.params],
  );
  const r = rows[0]!;
  return { leads: Number(r.leads), emailEvents: Number(r.events), suppressionsAdded: Number(r.missing) };
}

/** Purges at most `limit` unsubscribed leads in one transaction (call inside one). */
export async function purgeUnsubscribedLeadsBatch(db: Queryable, workspaceId: string, cutoff: Date, limit: number): Promise<UnsubscribedCounts> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string; email: string }>(`${UNSUBSCRIBED_LEADS} LIMIT $3 FOR UPDATE OF l SKIP LOCKED`, [workspaceId, cutoff, limit]);
  if (rows.length === 0) return { leads: 0, emailEvents: 0, suppressionsAdded: 0 };
  const ids = rows.map((r) => r.id);
  // the address first: it must stay suppressed after the lead is gone
  const added = await db.query(
    `INSERT INTO suppression_list (workspace_id, email, suppression_type, reason, source)
     SELECT DISTINCT $1::uuid, u.email, 'unsubscribe', 'retention: unsubscribed lead data deleted', 'manual'
     FROM leads u WHERE u.workspace_id = $1 AND u.id = ANY($2::uuid[]) AND ${NOT_SUPPRESSED}
     ON CONFLICT DO NOTHING`,
    [workspaceId, ids],
  );
  const events = await db.query(`DELETE FROM email_events WHERE workspace_id = $1 AND lead_id = ANY($2::uuid[])`, [workspaceId, ids]);
  const leads = await db.query(`DELETE FROM leads WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [workspaceId, ids]);
  return { leads: leads.rowCount ?? 0, emailEvents: events.rowCount ?? 0, suppressionsAdded: added.rowCount ?? 0 };
}

/*
 * Audit logs (7 years): archived before deletion. A batch is locked, handed to the caller to
 * archive, and deleted in the same transaction only after the archive is stored.
 */
export type ArchivedTable = 'audit_logs' | 'gdpr_audit_logs';

export async function countArchivable(db: Queryable, table: ArchivedTable, workspaceId: string, cutoff: Date): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${archiveTable(table)} WHERE workspace_id = $1 AND created_at < $2`, [
    workspaceId,
    cutoff,
  ]);
  return Number(rows[0]!.n);
}

/** Locks and returns up to `limit` rows (as JSON objects, oldest first); call inside a transaction. */
export async function lockArchivableBatch(
  db: Queryable,
  table: ArchivedTable,
  workspaceId: string,
  cutoff: Date,
  limit: number,
): Promise<Array<Record<string, unknown> & { id: string; created_at: string }>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ row: Record<string, unknown> & { id: string; created_at: string } }>(
    `SELECT to_jsonb(t) AS row FROM ${archiveTable(table)} t WHERE t.workspace_id = $1 AND t.created_at < $2
     ORDER BY t.created_at, t.id LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [workspaceId, cutoff, limit],
  );
  return rows.map((r) => r.row);
}

export async function deleteArchivedRows(db: Queryable, table: ArchivedTable, workspaceId: string, ids: readonly string[]): Promise<number> {
  assertWorkspaceId(workspaceId);
  const result = await db.query(`DELETE FROM ${archiveTable(table)} WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [workspaceId, ids]);
  return result.rowCount ?? 0;
}

function archiveTable(table: ArchivedTable): string {
  if (table !== 'audit_logs' && table !== 'gdpr_audit_logs') throw new TypeError(`not an archived table: ${String(table)}`);
  return table;
}

/*
 * GDPR exports: expired after 7 days or 3 downloads; the stored file is removed before the row.
 */
const EXPIRED_EXPORTS = `workspace_id = $1 AND (expires_at < $2 OR download_count >= max_downloads)`;

export async function countExpiredGdprExports(db: Queryable, workspaceId: string, now: Date): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM data_portability_exports WHERE ${EXPIRED_EXPORTS}`, [workspaceId, now]);
  return Number(rows[0]!.n);
}

export async function lockExpiredGdprExports(
  db: Queryable,
  workspaceId: string,
  now: Date,
  limit: number,
): Promise<Array<{ id: string; objectKey: string | null }>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string; object_key: string | null }>(
    `SELECT id, object_key FROM data_portability_exports WHERE ${EXPIRED_EXPORTS} ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`,
    [workspaceId, now, limit],
  );
  return rows.map((r) => ({ id: r.id, objectKey: r.object_key }));
}

export async function deleteGdprExports(db: Queryable, workspaceId: string, ids: readonly string[]): Promise<number> {
  assertWorkspaceId(workspaceId);
  const result = await db.query(`DELETE FROM data_portability_exports WHERE workspace_id = $1 AND id = ANY($2::uuid[])`, [workspaceId, ids]);
  return result.rowCount ?? 0;
}

/*
 * Partitions: what maintain_email_events_partitions would create and drop, for the dry run, with
 * the rows each dropped month holds.
 */
export interface PartitionPlan {
  readonly create: string[];
  readonly drop: Array<{ name: string; rows: number }>;
}

const monthName = (d: Date) => `email_events_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

export async function planEmailEventsPartitions(db: Queryable, now: Date, monthsAhead: number, retentionMonths: number): Promise<PartitionPlan> {
  const existing = await listEmailEventsPartitions(db);
  const have = new Set(existing);
  const create: string[] = [];
  for (let i = 0; i <= monthsAhead; i++) {
    const name = monthName(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1)));
    if (!have.has(name)) create.push(name);
  }
  const floor = partitionFloor(now, retentionMonths);
  const drop: Array<{ name: string; rows: number }> = [];
  for (const name of existing) {
    const m = /^email_events_(\d{4})_(\d{2})$/.exec(name);
    if (!m) continue;
    const end = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
    if (end.getTime() <= floor.getTime()) {
      const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`);
      drop.push({ name, rows: Number(rows[0]!.n) });
    }
  }
  return { create, drop };
}

/** Rows in a partition about to be dropped (the name comes from listEmailEventsPartitions). */
export async function countPartitionRows(db: Queryable, partition: string): Promise<number> {
  if (!/^email_events_\d{4}_\d{2}$/.test(partition)) throw new TypeError(`not an email_events partition: ${partition}`);
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${partition}`);
  return Number(rows[0]!.n);
}

/** Session-level advisory lock so one cleanup runs at a time across replicas; false when held. */
export async function tryMaintenanceLock(client: PoolClient, name: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(hashtext($1)) AS ok`, [`coldcopy:maintenance:${name}`]);
  return rows[0]!.ok;
}

export async function releaseMaintenanceLock(client: PoolClient, name: string): Promise<void> {
  await client.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`coldcopy:maintenance:${name}`]);
}
