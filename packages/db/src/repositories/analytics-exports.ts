import type { Readable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import QueryStream from 'pg-query-stream';
import { RecordNotFoundError, TenancyError } from '../errors.js';
import type { Pool, PoolClient, Queryable } from '../pool.js';
import { assertId, assertWorkspaceId } from './scope.js';

/**
 * export-data (domain.md §5, §7): the export_jobs row, the export queries (every one scoped by
 * workspace, columns from a fixed list, values rendered as text by Postgres so every format writes
 * the same strings), a server-side cursor over a consistent snapshot, and the audit rows.
 */

export type ExportType = 'leads' | 'campaigns' | 'email_events' | 'analytics' | 'gdpr';
export type ExportFormat = 'csv' | 'xlsx' | 'json';

export interface ExportJobRow {
  id: string;
  workspace_id: string;
  requested_by: string | null;
  type: ExportType;
  format: ExportFormat;
  status: 'pending' | 'processing' | 'completed' | 'failed' | 'expired';
  progress: number;
  row_count: string | null;
  file_size: string | null;
  object_key: string | null;
  expires_at: Date | null;
  error: string | null;
  bull_job_id: string | null;
  started_at: Date | null;
  completed_at: Date | null;
  created_at: Date;
}

export interface ExportFilters {
  readonly campaignIds?: readonly string[];
  readonly leadIds?: readonly string[];
  readonly statuses?: readonly string[];
  readonly tags?: readonly string[];
  readonly createdFrom?: string;
  readonly createdTo?: string;
}

export interface ExportColumn {
  /** the name a payload's `fields[]` uses */
  readonly field: string;
  /** the header row's label */
  readonly header: string;
  /** SQL expression rendering the value as text (NULL stays NULL) */
  readonly sql: string;
}

const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const col = (field: string, sql: string, header = field): ExportColumn => ({ field, header, sql });

/** Every exportable column per type, in default order (domain.md §7 for the campaign CSV). */
export const EXPORT_COLUMNS: Readonly<Record<Exclude<ExportType, 'gdpr'>, readonly ExportColumn[]>> = {
  leads: [
    col('id', 't.id::text'),
    col('email', 't.email'),
    col('first_name', 't.first_name'),
    col('last_name', 't.last_name'),
    col('company', 't.company'),
    col('title', 't.title'),
    col('phone', 't.phone'),
    col('website', 't.website'),
    col('linkedin_url', 't.linkedin_url'),
    col('location', 't.location'),
    col('industry', 't.industry'),
    col('status', 't.status'),
    col('email_status', 't.email_status'),
    col('score', 't.score::text'),
    col('engagement_score', 't.engagement_score::text'),
    col('tags', `array_to_string(t.tags, ';')`),
    col('custom_fields', 't.custom_fields::text'),
    col('last_contacted_at', iso('t.last_contacted_at')),
    col('created_at', iso('t.created_at')),
  ],
  campaigns: [
    col('name', 't.name', 'Campaign Name'),
    col('type', 't.type', 'Type'),
    col('status', 't.status', 'Status'),
    col('total_sent', 't.sent_count::text', 'Total Sent'),
    col('opens', 't.open_count::text', 'Opens'),
    col('open_rate', `CASE WHEN t.sent_count > 0 THEN round(t.open_count::numeric / t.sent_count, 4)::text ELSE '0' END`, 'Open Rate'),
    col('clicks', 't.click_count::text', 'Clicks'),
    col('click_rate', `CASE WHEN t.sent_count > 0 THEN round(t.click_count::numeric / t.sent_count, 4)::text ELSE '0' END`, 'Click Rate'),
    col('replies', 't.reply_count::text', 'Replies'),
    col('reply_rate', `CASE WHEN t.sent_count > 0 THEN round(t.reply_count::numeric / t.sent_count, 4)::text ELSE '0' END`, 'Reply Rate'),
    col('created_date', `to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, 'Created Date'),
  ],
  email_events: [
    col('id', 't.id::text'),
    col('created_at', iso('t.created_at')),
    col('event_type', 't.event_type'),
    col('campaign_id', 't.campaign_id::text'),
    col('lead_id', 't.lead_id::text'),
    col('campaign_email_id', 't.campaign_email_id::text'),
    col('provider', 't.provider'),
    col('provider_message_id', 't.provider_message_id'),
    col('metadata', 't.metadata::text'),
  ],
  analytics: [
    col('campaign_id', 't.campaign_id::text'),
    col('campaign_name', 'c.name'),
    col('day', `to_char(t.day, 'YYYY-MM-DD')`),
    col('sent', 't.sent::text'),
    col('delivered', 't.delivered::text'),
    col('opens', 't.opens::text'),
    col('unique_opens', 't.unique_opens::text'),
    col('clicks', 't.clicks::text'),
    col('unique_clicks', 't.unique_clicks::text'),
    col('replies', 't.replies::text'),
    col('bounces', 't.bounces::text'),
    col('complaints', 't.complaints::text'),
    col('unsubscribes', 't.unsubscribes::text'),
  ],
};

/** GDPR exports in CSV/XLSX: one row per record of the data subject (domain.md §7). */
export const GDPR_COLUMNS: readonly ExportColumn[] = [
  col('section', 'section'),
  col('lead_id', 'lead_id'),
  col('record_id', 'record_id'),
  col('created_at', 'created_at'),
  col('data', 'data'),
];

/** A `fields[]` entry that the type has no column for: a bad payload, never retried. */
export class UnknownExportFieldError extends Error {
  override name = 'UnknownExportFieldError';
  readonly permanent = true;
  constructor(type: string, fields: readonly string[], known: readonly string[]) {
    super(`unknown ${type} export field(s) ${fields.join(', ')}; known: ${known.join(', ')}`);
  }
}

export interface ExportQuery {
  readonly columns: readonly ExportColumn[];
  /** `SELECT <the columns' sql> <body>` */
  readonly text: string;
  /** everything after the select list: `FROM … WHERE … ORDER BY …` */
  readonly body: string;
  /** the same rows counted, without rendering or ordering them (same parameters) */
  readonly countText: string;
  readonly values: unknown[];
  /** rows are JSON documents rendered by Postgres (gdpr in JSON: one bundle per lead) */
  readonly rawJson: boolean;
}

/** The columns a payload asked for (all when `fields` is absent), checked against the list. */
export function exportColumns(type: ExportType, fields?: readonly string[]): readonly ExportColumn[] {
  const all = type === 'gdpr' ? GDPR_COLUMNS : EXPORT_COLUMNS[type];
  if (!fields) return all;
  const unknown = fields.filter((f) => !all.some((c) => c.field === f));
  if (unknown.length > 0)
    throw new UnknownExportFieldError(
      type,
      unknown,
      all.map((c) => c.field),
    );
  return fields.map((f) => all.find((c) => c.field === f)!);
}

/**
 * The query of one export: `$1` is always the workspace; filters become further parameters.
 * Ordered by a unique key, so two runs over the same data write the same bytes.
 */
export function buildExportQuery(
  workspaceId: string,
  type: ExportType,
  format: ExportFormat,
  fields?: readonly string[],
  filters: ExportFilters = {},
): ExportQuery {
  assertWorkspaceId(workspaceId);
  const values: unknown[] = [workspaceId];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const where: string[] = ['t.workspace_id = $1'];
  const created = (column: string, cast = 'timestamptz') => {
    if (filters.createdFrom) where.push(`${column} >= ${param(filters.createdFrom)}::${cast}`);
    if (filters.createdTo) where.push(`${column} < ${param(filters.createdTo)}::${cast}`);
  };

  if (type === 'gdpr') {
    if (!filters.leadIds?.length)
      throw Object.assign(new Error('a gdpr export needs filters.leadIds (the data subject)'), { name: 'InvalidExportError', permanent: true });
    const leads = param(filters.leadIds);
    if (format === 'json') {
      // domain.md §7: { lead, consent_records, enriched_data, campaign_history, email_events, exported_at, format_version }
      const bundle = `json_build_object(
                 'lead', to_jsonb(t) - 'workspace_id',
                 'consent_records', coalesce((SELECT json_agg(to_jsonb(c) - 'workspace_id' ORDER BY c.created_at, c.id) FROM consent_records c WHERE c.lead_id = t.id AND c.workspace_id = $1), '[]'),
                 'enriched_data', coalesce((SELECT json_agg(to_jsonb(d) - 'workspace_id' ORDER BY d.created_at, d.id) FROM enriched_data d WHERE d.lead_id = t.id AND d.workspace_id = $1), '[]'),
                 'campaign_history', coalesce((SELECT json_agg(json_build_object('campaign_id', ce.campaign_id, 'campaign_name', cp.name, 'step_number', ce.step_number, 'status', ce.status, 'subject', ce.subject, 'sent_at', ce.sent_at, 'opened_at', ce.opened_at, 'clicked_at', ce.clicked_at, 'replied_at', ce.replied_at) ORDER BY ce.created_at, ce.id)
                                               FROM campaign_emails ce JOIN campaigns cp ON cp.id = ce.campaign_id AND cp.workspace_id = ce.workspace_id
                                               WHERE ce.lead_id = t.id AND ce.workspace_id = $1), '[]'),
                 'email_events', coalesce((SELECT json_agg(to_jsonb(e) - 'workspace_id' ORDER BY e.created_at, e.id) FROM email_events e WHERE e.lead_id = t.id AND e.workspace_id = $1), '[]'),
                 'exported_at', now(),
                 'format_version', '1.0')::text`;
      const body = `FROM leads t WHERE t.workspace_id = $1 AND t.id = ANY(${leads}::uuid[]) ORDER BY t.id`;
      return {
        columns: [col('bundle', bundle)],
        rawJson: true,
        values,
        text: `SELECT ${bundle} ${body}`,
        body,
        countText: `SELECT count(*) AS n FROM leads t WHERE t.workspace_id = $1 AND t.id = ANY(${leads}::uuid[])`,
      };
    }
    const columns = exportColumns('gdpr', fields);
    const section = (name: string, from: string) =>
      `SELECT '${name}' AS section, x.lead_id::text AS lead_id, x.id::text AS record_id, ${iso('x.created_at')} AS created_at, (to_jsonb(x) - 'workspace_id')::text AS data, x.created_at AS ts FROM ${from} x WHERE x.workspace_id = $1 AND x.${name === 'lead' ? 'id' : 'lead_id'} = ANY(${leads}::uuid[])`;
    const union = [
      section('lead', 'leads').replace('x.lead_id::text', 'x.id::text'),
      section('consent_record', 'consent_records'),
      section('enriched_data', 'enriched_data'),
      section('campaign_email', 'campaign_emails'),
      section('email_event', 'email_events'),
    ].join('\nUNION ALL\n');
    const body = `FROM (${union}) u ORDER BY lead_id, section, ts, record_id`;
    return {
      columns,
      rawJson: false,
      values,
      text: `SELECT ${columns.map((c) => c.sql).join(', ')} ${body}`,
      body,
      countText: `SELECT count(*) AS n FROM (${union}) u`,
    };
  }

  const columns = exportColumns(type, fields);
  let from: string;
  let order: string;
  switch (type) {
    case 'leads':
      from = 'leads t';
      where.push('t.deleted_at IS NULL');
      if (filters.leadIds) where.push(`t.id = ANY(${param(filters.leadIds)}::uuid[])`);
      if (filters.statuses) where.push(`t.status = ANY(${param(filters.statuses)}::text[])`);
      if (filters.tags) where.push(`t.tags && ${param(filters.tags)}::text[]`);
      if (filters.campaignIds) {
        where.push(
          `EXISTS (SELECT 1 FROM campaign_leads cl WHERE cl.lead_id = t.id AND cl.workspace_id = $1 AND cl.campaign_id = ANY(${param(filters.campaignIds)}::uuid[]))`,
        );
      }
      created('t.created_at');
      order = 't.created_at, t.id';
      break;
    case 'campaigns':
      from = 'campaigns t';
      where.push('t.deleted_at IS NULL');
      if (filters.campaignIds) where.push(`t.id = ANY(${param(filters.campaignIds)}::uuid[])`);
      if (filters.statuses) where.push(`t.status = ANY(${param(filters.statuses)}::text[])`);
      created('t.created_at');
      order = 't.created_at, t.id';
      break;
    case 'email_events':
      from = 'email_events t';
      if (filters.campaignIds) where.push(`t.campaign_id = ANY(${param(filters.campaignIds)}::uuid[])`);
      if (filters.leadIds) where.push(`t.lead_id = ANY(${param(filters.leadIds)}::uuid[])`);
      if (filters.statuses) where.push(`t.event_type = ANY(${param(filters.statuses)}::text[])`);
      created('t.created_at');
      order = 't.created_at, t.id';
      break;
    case 'analytics':
      // campaign x day from the view; the join to campaigns is scoped by workspace too
      from = 'mv_campaign_daily t JOIN campaigns c ON c.id = t.campaign_id AND c.workspace_id = t.workspace_id';
      if (filters.campaignIds) where.push(`t.campaign_id = ANY(${param(filters.campaignIds)}::uuid[])`);
      created('t.day', 'date');
      order = 't.day, t.campaign_id';
      break;
  }
  const body = `FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${order}`;
  return {
    columns,
    rawJson: false,
    values,
    text: `SELECT ${columns.map((c) => c.sql).join(', ')} ${body}`,
    body,
    // counting the rendered, ordered query would sort every row once more before the export starts
    countText: `SELECT count(*) AS n FROM ${from} WHERE ${where.join(' AND ')}`,
  };
}

export interface ExportCursor {
  /** rows matched, counted in the same snapshot as the stream */
  readonly total: number;
  /** object-mode stream of rows: arrays of strings or nulls in column order */
  readonly rows: Readable;
  /** ends the transaction and returns the connection; call once the stream is done or failed */
  close(): Promise<void>;
}

/**
 * The export's snapshot: a read-only REPEATABLE READ transaction on its own connection, the rows
 * counted in it (under `statementTimeoutMs`), then `open` starts the read of the rows. `close`
 * commits and returns the connection; a read that did not end (failed, aborted, still running)
 * destroys the connection instead, which also stops Postgres sending.
 */
async function openSnapshot<S extends Readable>(
  pool: Pool,
  query: ExportQuery,
  statementTimeoutMs: number,
  open: (client: PoolClient) => S,
): Promise<{ total: number; stream: S; close(): Promise<void> }> {
  const client: PoolClient = await pool.connect();
  let closed = false;
  let stream: S | undefined;
  const close = async () => {
    if (closed) return;
    closed = true;
    if (stream && !stream.readableEnded) {
      client.release(new Error('export read stopped before its end'));
      return;
    }
    try {
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      client.release(err as Error); // a broken connection is not returned to the pool
    }
  };
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(statementTimeoutMs)]);
    const { rows } = await client.query<{ n: string }>(query.countText, query.values);
    // Postgres counts a cursor's or a COPY's whole read as one statement, so a per-fetch limit
    // does not exist: the read is bounded by the job's time budget instead, whose abort ends it.
    await client.query(`SELECT set_config('statement_timeout', '0', true)`);
    stream = open(client);
    stream.once('error', () => void close());
    return { total: Number(rows[0]!.n), stream, close };
  } catch (err) {
    stream = undefined;
    closed = true;
    client.release(err as Error);
    throw err;
  }
}

/**
 * A server-side cursor (pg-query-stream) over the query, in one snapshot with the count. It reads
 * `batchSize` rows per round trip and only when the consumer asks for more (back-pressure down to
 * the database). For the formats that need values (XLSX); CSV and JSON use openExportCopy.
 */
export async function openExportCursor(
  pool: Pool,
  query: ExportQuery,
  /** `statementTimeoutMs` bounds the count */
  options: { readonly batchSize?: number; readonly statementTimeoutMs: number },
): Promise<ExportCursor> {
  const batchSize = options.batchSize ?? 2000;
  const { total, stream, close } = await openSnapshot(pool, query, options.statementTimeoutMs, (client) =>
    client.query(new QueryStream(query.text, query.values, { batchSize, highWaterMark: batchSize, rowMode: 'array' })),
  );
  return { total, rows: stream, close };
}

export interface ExportCopy {
  /** rows matched, counted in the same snapshot as the stream */
  readonly total: number;
  /**
   * The export rendered by Postgres, as bytes. `csv`: RFC 4180 quoting with a header row of the
   * column headers, LF line ends, NULL as an empty field and '' as `""`. `json`: one JSON object
   * per line (keys are the field names, values JSON strings or null; for raw queries the document
   * itself), no raw line breaks inside a line.
   */
  readonly bytes: Readable;
  /** ends the transaction and returns the connection; call once the stream is done or failed */
  close(): Promise<void>;
}

/**
 * `COPY (query) TO STDOUT` in one snapshot with the count: Postgres renders every value and the
 * stream carries its bytes as they come, read only as fast as the consumer takes them
 * (pg-copy-streams stops reading the socket otherwise). No row ever becomes a JavaScript object,
 * which keeps a million-row export cheap in CPU and garbage.
 */
export async function openExportCopy(
  pool: Pool,
  query: ExportQuery,
  format: 'csv' | 'json',
  options: { readonly statementTimeoutMs: number },
): Promise<ExportCopy> {
  const { total, stream, close } = await openSnapshot(pool, query, options.statementTimeoutMs, (client) =>
    client.query(copyTo(exportCopySql(query, format), { highWaterMark: 64 * 1024 })),
  );
  return { total, bytes: stream, close };
}

/** The COPY statement of an export (exported for tests). COPY takes no bind parameters: the values are inlined as literals. */
export function exportCopySql(query: ExportQuery, format: 'csv' | 'json'): string {
  if (format === 'csv') {
    const select = query.columns.map((c) => `${c.sql} AS ${pg.escapeIdentifier(c.header)}`).join(', ');
    return `COPY (SELECT ${inlineValues(`${select} ${query.body}`, query.values)}) TO STDOUT WITH (FORMAT csv, HEADER true)`;
  }
  const line = query.rawJson
    ? query.columns[0]!.sql
    : `${query.columns
        .map((c, i) => `${pg.escapeLiteral(`${i === 0 ? '{' : ','}${JSON.stringify(c.field)}:`)} || coalesce(to_json(${c.sql})::text, 'null')`)
        .join(' || ')} || '}'`;
  // CSV mode with a quote and a delimiter that JSON text never holds raw (to_json escapes every
  // control character): each line is the document as it is, without text-mode backslash escaping
  return `COPY (SELECT ${inlineValues(`${line} ${query.body}`, query.values)}) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')`;
}

/** `$n` → a literal of `values[n-1]` (strings, or arrays of strings as array literals; every use in the queries is cast). */
function inlineValues(text: string, values: readonly unknown[]): string {
  return text.replace(/\$(\d+)(?!\d)/g, (whole, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= values.length) return whole;
    const v = values[i];
    if (typeof v === 'string') return pg.escapeLiteral(v);
    if (Array.isArray(v)) return pg.escapeLiteral(`{${v.map((x) => `"${String(x).replace(/["\\]/g, '\\$&')}"`).join(',')}}`);
    throw new TypeError(`export query parameter $${n} is a ${typeof v}`);
  });
}

/** The export_jobs row of the workspace; TenancyError when it belongs to another one. */
export async function getExportJob(db: Queryable, workspaceId: string, exportJobId: string): Promise<ExportJobRow> {
  assertWorkspaceId(workspaceId);
  assertId('export_jobs', exportJobId);
  const { rows } = await db.query<ExportJobRow>('SELECT * FROM export_jobs WHERE id = $1', [exportJobId]);
  const row = rows[0];
  if (!row) throw new RecordNotFoundError('export_jobs', exportJobId);
  if (row.workspace_id !== workspaceId) throw new TenancyError('export_jobs', exportJobId, workspaceId);
  return row;
}

/**
 * Marks the export processing and fixes its object key: the first attempt stores `objectKey`,
 * later attempts (a retry, a restart after a crash) get the stored key back and overwrite that
 * one object instead of writing a second.
 */
export async function claimExportJob(
  db: Queryable,
  workspaceId: string,
  exportJobId: string,
  claim: { readonly objectKey: string; readonly bullJobId: string },
): Promise<ExportJobRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<ExportJobRow>(
    `UPDATE export_jobs SET status = 'processing', progress = 0, error = NULL,
       object_key = coalesce(object_key, $3), bull_job_id = $4, started_at = coalesce(started_at, now())
     WHERE id = $1 AND workspace_id = $2 AND status IN ('pending', 'processing', 'failed')
     RETURNING *`,
    [exportJobId, workspaceId, claim.objectKey, claim.bullJobId],
  );
  return rows[0] ?? getExportJob(db, workspaceId, exportJobId);
}

export async function setExportProgress(db: Queryable, workspaceId: string, exportJobId: string, progress: number): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE export_jobs SET progress = $3 WHERE id = $1 AND workspace_id = $2 AND status = 'processing'`, [
    exportJobId,
    workspaceId,
    Math.max(0, Math.min(100, Math.floor(progress))),
  ]);
}

export async function completeExportJob(
  db: Queryable,
  workspaceId: string,
  exportJobId: string,
  done: { readonly rowCount: number; readonly fileSize: number; readonly expiresAt: Date },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE export_jobs SET status = 'completed', progress = 100, row_count = $3, file_size = $4, expires_at = $5, completed_at = now(), error = NULL
     WHERE id = $1 AND workspace_id = $2`,
    [exportJobId, workspaceId, done.rowCount, done.fileSize, done.expiresAt],
  );
}

/** Marks the export failed unless it completed; true when it did mark it. */
export async function failExportJob(db: Queryable, workspaceId: string, exportJobId: string, error: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(`UPDATE export_jobs SET status = 'failed', error = $3 WHERE id = $1 AND workspace_id = $2 AND status <> 'completed'`, [
    exportJobId,
    workspaceId,
    error.slice(0, 2000),
  ]);
  return rowCount === 1;
}

/** An audit row; `actorUserId` must be a user id (uuid) or null for the system. */
export async function insertAuditLog(
  db: Queryable,
  workspaceId: string,
  entry: {
    readonly actorUserId: string | null;
    readonly action: string;
    readonly resourceType: string;
    readonly resourceId: string;
    readonly changes: Record<string, unknown>;
  },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query('INSERT INTO audit_logs (workspace_id, actor_user_id, action, resource_type, resource_id, changes) VALUES ($1, $2, $3, $4, $5, $6)', [
    workspaceId,
    entry.actorUserId,
    entry.action,
    entry.resourceType,
    entry.resourceId,
    JSON.stringify(entry.changes),
  ]);
}

/** A GDPR audit row with an explicit actor (auth.uid() is NULL under the service role). */
export async function insertGdprAuditLog(
  db: Queryable,
  workspaceId: string,
  entry: {
    readonly actorUserId: string | null;
    readonly action: string;
    readonly resourceType: string;
    readonly resourceId: string;
    readonly leadIds: readonly string[];
    readonly details: Record<string, unknown>;
  },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  const values = entry.leadIds.length > 0 ? entry.leadIds : [null];
  await db.query(
    `INSERT INTO gdpr_audit_logs (workspace_id, actor_user_id, actor_type, action, resource_type, resource_id, lead_id, details)
     SELECT $1, $2, CASE WHEN $2::uuid IS NULL THEN 'system' ELSE 'user' END, $3, $4, $5, l, $7
     FROM unnest($6::uuid[]) AS l`,
    [workspaceId, entry.actorUserId, entry.action, entry.resourceType, entry.resourceId, values, JSON.stringify(entry.details)],
  );
}
