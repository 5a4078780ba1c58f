import type { Pool, PoolClient, Queryable } from '../pool.js';
import { withTransaction } from '../pool.js';
import { assertAllInWorkspace, assertId, assertWorkspaceId, refuse, UUID } from './scope.js';

/**
 * Enrichment (domain.md §1 Enrichment, §5 enrichment jobs): providers and the cache are global
 * (no workspace data: cache keys are provider + SHA-256 of the normalised input), everything else
 * is scoped by the job's workspace.
 */

export interface EnrichmentProviderRow {
  id: string;
  name: string;
  type: string;
  is_active: boolean;
  disabled_reason: string | null;
  rate_limits: Record<string, unknown>;
}

/** A provider by id (global table), or undefined. */
export async function getEnrichmentProvider(db: Queryable, providerId: string): Promise<EnrichmentProviderRow | undefined> {
  const { rows } = await db.query<EnrichmentProviderRow>(
    'SELECT id, name, type, is_active, disabled_reason, rate_limits FROM enrichment_providers WHERE id = $1',
    [providerId],
  );
  return rows[0];
}

/** Adds a provider row (or returns the existing one of that name): seeds and tests. */
export async function ensureEnrichmentProvider(
  db: Queryable,
  provider: { name: string; type: string; costPerRequest?: number },
): Promise<EnrichmentProviderRow> {
  const { rows } = await db.query<EnrichmentProviderRow>(
    `INSERT INTO enrichment_providers (name, type, cost_per_request) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type
     RETURNING id, name, type, is_active, disabled_reason, rate_limits`,
    [provider.name, provider.type, provider.costPerRequest ?? 1],
  );
  return rows[0]!;
}

/**
 * Disables a provider after a permanent account answer (401, plan exhausted, no provider credits):
 * every replica sees it before its next call. Keeps the first reason.
 */
export async function disableEnrichmentProvider(db: Queryable, providerId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE enrichment_providers SET is_active = false, disabled_reason = coalesce(disabled_reason, $2), disabled_at = coalesce(disabled_at, now())
     WHERE id = $1 AND is_active`,
    [providerId, reason.slice(0, 500)],
  );
  return (rowCount ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------
// Cache (global)

export interface CachedEnrichment {
  readonly queryType: string;
  readonly data: Record<string, unknown>;
  readonly expiresAt: Date;
}

/** A fresh cache entry (and one hit counted), or undefined. */
export async function readEnrichmentCache(db: Queryable, cacheKey: string): Promise<CachedEnrichment | undefined> {
  const { rows } = await db.query<{ query_type: string; cached_data: Record<string, unknown>; expires_at: Date }>(
    `UPDATE enrichment_cache SET hit_count = hit_count + 1, last_hit_at = now()
     WHERE cache_key = $1 AND expires_at > now()
     RETURNING query_type, cached_data, expires_at`,
    [cacheKey],
  );
  const row = rows[0];
  return row && { queryType: row.query_type, data: row.cached_data, expiresAt: row.expires_at };
}

export interface CacheEntry {
  readonly cacheKey: string;
  /** null: a result of the worker's own checks (verification without a provider) */
  readonly providerId: string | null;
  readonly queryType: string;
  readonly data: Record<string, unknown>;
  readonly ttlMs: number;
}

export async function writeEnrichmentCache(db: Queryable, entry: CacheEntry): Promise<void> {
  await db.query(
    `INSERT INTO enrichment_cache (cache_key, provider_id, query_type, cached_data, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
     ON CONFLICT (cache_key) DO UPDATE SET
       cached_data = EXCLUDED.cached_data, query_type = EXCLUDED.query_type, expires_at = EXCLUDED.expires_at, hit_count = 0`,
    [entry.cacheKey, entry.providerId, entry.queryType, entry.data, entry.ttlMs],
  );
}

// ---------------------------------------------------------------------------------------------
// Credits

/** Credits the workspace has left with the provider (0 when it has no credits row). */
export async function getEnrichmentCreditsAvailable(db: Queryable, workspaceId: string, providerId: string): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ credits_available: number }>(
    'SELECT credits_available FROM enrichment_credits WHERE workspace_id = $1 AND provider_id = $2',
    [workspaceId, providerId],
  );
  return rows[0]?.credits_available ?? 0;
}

/** Sets a workspace's credits with a provider (billing, seeds, tests). */
export async function setEnrichmentCredits(db: Queryable, workspaceId: string, providerId: string, available: number): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `INSERT INTO enrichment_credits (workspace_id, provider_id, credits_available, monthly_allowance) VALUES ($1, $2, $3, $3)
     ON CONFLICT (workspace_id, provider_id) DO UPDATE SET credits_available = EXCLUDED.credits_available`,
    [workspaceId, providerId, available],
  );
}

/** The workspace has fewer credits than the request costs: nothing was written. */
export class EnrichmentCreditsExhaustedError extends Error {
  override name = 'EnrichmentCreditsExhaustedError';
  readonly permanent = true;
  constructor(
    readonly workspaceId: string,
    readonly providerId: string,
  ) {
    super(`workspace ${workspaceId} has no enrichment credits left with provider ${providerId}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Results

export type LedgerOutcome = 'charged' | 'cached' | 'no_match';

export interface EnrichedRecord {
  readonly dataType: string;
  readonly data: Record<string, unknown>;
  readonly confidence?: number;
  readonly verificationStatus?: 'verified' | 'unverified' | 'invalid' | 'risky' | 'unknown';
  readonly expiresAt?: Date;
}

/** Lead columns an enrichment may fill (only where the lead has no value yet). */
export interface LeadFieldUpdate {
  readonly first_name?: string;
  readonly last_name?: string;
  readonly company?: string;
  readonly title?: string;
  readonly phone?: string;
  readonly website?: string;
  readonly linkedin_url?: string;
  readonly location?: string;
  readonly industry?: string;
}

const LEAD_FIELDS = ['first_name', 'last_name', 'company', 'title', 'phone', 'website', 'linkedin_url', 'location', 'industry'] as const;

export interface EnrichmentOutcome {
  readonly providerId: string;
  readonly leadId: string;
  /** the logical request (enrichment_ledger.request_key) */
  readonly requestKey: string;
  readonly requestType: string;
  readonly outcome: LedgerOutcome;
  /** charged only when outcome is `charged` */
  readonly credits: number;
  readonly records: readonly EnrichedRecord[];
  readonly leadFields?: LeadFieldUpdate;
  /** merged into leads.enrichment_data (a summary, never raw provider answers) */
  readonly summary?: Record<string, unknown>;
  readonly bullJobId?: string;
  readonly processingMs?: number;
  /** a batch child: its item settles in the same transaction */
  readonly enrichmentJobId?: string;
}

export interface AppliedOutcome {
  /** false: this request was applied before (a retried or re-delivered job); nothing was written */
  readonly applied: boolean;
  readonly outcome: LedgerOutcome;
  readonly credits: number;
}

/**
 * Writes one enrichment's result in one transaction: the ledger row (unique per request, so a
 * second delivery writes and charges nothing), the credit charge (refused with
 * EnrichmentCreditsExhaustedError when the workspace has too few, rolling everything back),
 * enriched_data (older rows of the same type and provider soft-deleted), the lead's empty mapped
 * fields, enrichment_data and last_enriched_at, the enrichment_requests row and, for a batch
 * child, its item.
 */
export async function applyEnrichmentOutcome(pool: Pool, workspaceId: string, o: EnrichmentOutcome): Promise<AppliedOutcome> {
  assertWorkspaceId(workspaceId);
  assertId('leads', o.leadId);
  const credits = o.outcome === 'charged' ? o.credits : 0;
  // inlined into the charge below: must be exactly a uuid and a non-negative integer
  if (!UUID.test(o.providerId)) throw new TypeError(`providerId must be a uuid, got ${JSON.stringify(o.providerId)}`);
  if (!Number.isSafeInteger(credits) || credits < 0) throw new RangeError(`credits must be a non-negative integer, got ${credits}`);
  const tx = await pool.connect();
  let open = false;
  try {
    await tx.query('BEGIN');
    open = true;
    const applied = await writeOutcome(tx, workspaceId, o, credits);
    if (applied.applied && credits > 0) {
      // The row every request of the workspace shares is charged last, and in the same round trip
      // as the commit (simple query protocol: two statements, the values inlined), so its lock is
      // never held while this process is away: charged first, it was held for the whole
      // transaction and serialised a batch's children (the bench sampled 20 sessions waiting on
      // it); charged last in a statement of its own, for the commit's round trip, which on a loaded
      // machine still queued 9-11. Too few credits: division by zero, the transaction rolls back.
      await tx.query(
        `WITH charged AS (
           UPDATE enrichment_credits SET credits_available = credits_available - ${credits}, credits_used = credits_used + ${credits}
            WHERE workspace_id = '${workspaceId}' AND provider_id = '${o.providerId}' AND credits_available >= ${credits}
            RETURNING 1)
         SELECT 1 / (SELECT count(*)::int FROM charged) AS charged;
         COMMIT`,
      );
    } else {
      await tx.query('COMMIT');
    }
    open = false;
    return applied;
  } catch (err) {
    if (open) await tx.query('ROLLBACK').catch(() => {});
    if ((err as { code?: unknown }).code === '22012') throw new EnrichmentCreditsExhaustedError(workspaceId, o.providerId);
    throw err;
  } finally {
    tx.release();
  }
}

/** applyEnrichmentOutcome's statements before the charge, inside its transaction. */
async function writeOutcome(tx: PoolClient, workspaceId: string, o: EnrichmentOutcome, credits: number): Promise<AppliedOutcome> {
  const ledger = await tx.query<{ outcome: LedgerOutcome; credits: number; inserted: boolean }>(
    `WITH ins AS (
         INSERT INTO enrichment_ledger (workspace_id, provider_id, request_key, lead_id, outcome, credits)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace_id, request_key) DO NOTHING
         RETURNING outcome, credits)
       SELECT outcome, credits, true AS inserted FROM ins
       UNION ALL
       SELECT outcome, credits, false FROM enrichment_ledger WHERE workspace_id = $1 AND request_key = $3 AND NOT EXISTS (SELECT 1 FROM ins)`,
    [workspaceId, o.providerId, o.requestKey, o.leadId, o.outcome, credits],
  );
  const row = ledger.rows[0]!;
  if (!row.inserted) return { applied: false, outcome: row.outcome, credits: row.credits };
  const lead = await tx.query<{ id: string }>('SELECT id FROM leads WHERE id = $1 AND workspace_id = $2 AND deleted_at IS NULL FOR UPDATE', [
    o.leadId,
    workspaceId,
  ]);
  if (lead.rowCount === 0) await refuse(tx, 'leads', workspaceId, o.leadId);
  if (o.records.length > 0) {
    await tx.query(
      `UPDATE enriched_data SET deleted_at = now()
         WHERE workspace_id = $1 AND lead_id = $2 AND provider_id = $3 AND data_type = ANY($4::text[]) AND deleted_at IS NULL`,
      [workspaceId, o.leadId, o.providerId, o.records.map((r) => r.dataType)],
    );
    await tx.query(
      `INSERT INTO enriched_data (workspace_id, lead_id, data_type, provider_id, data, confidence_score, verification_status, expires_at)
         SELECT $1, $2, r.data_type, $3, r.data, r.confidence, r.verification_status, r.expires_at
         FROM jsonb_to_recordset($4::jsonb) AS r(data_type text, data jsonb, confidence numeric, verification_status text, expires_at timestamptz)`,
      [
        workspaceId,
        o.leadId,
        o.providerId,
        JSON.stringify(
          o.records.map((r) => ({
            data_type: r.dataType,
            data: r.data,
            confidence: r.confidence ?? null,
            verification_status: r.verificationStatus ?? null,
            expires_at: r.expiresAt?.toISOString() ?? null,
          })),
        ),
      ],
    );
  }
  const fields = o.leadFields ?? {};
  const sets = LEAD_FIELDS.filter((f) => typeof fields[f] === 'string' && fields[f] !== '');
  await tx.query(
    `UPDATE leads SET ${sets.map((f, i) => `${f} = coalesce(nullif(${f}, ''), $${i + 4}), `).join('')}
         enrichment_data = enrichment_data || $3::jsonb,
         last_enriched_at = now()
       WHERE id = $1 AND workspace_id = $2`,
    [o.leadId, workspaceId, JSON.stringify(o.summary ?? {}), ...sets.map((f) => fields[f]!)],
  );
  await tx.query(
    `INSERT INTO enrichment_requests (workspace_id, lead_id, provider_id, request_type, status, credits_used, processing_time_ms, bull_job_id, completed_at)
       VALUES ($1, $2, $3, $4, 'completed', $5, $6, $7, now())`,
    [workspaceId, o.leadId, o.providerId, o.requestType, credits, o.processingMs ?? null, o.bullJobId ?? null],
  );
  if (o.enrichmentJobId) {
    const status = o.outcome === 'charged' ? 'enriched' : o.outcome;
    await settleItem(tx, workspaceId, o.enrichmentJobId, o.leadId, status, null);
  }
  return { applied: true, outcome: o.outcome, credits };
}

/** Records a request that failed for good (no ledger row, no charge). */
export async function recordFailedEnrichmentRequest(
  db: Queryable,
  workspaceId: string,
  failure: { leadId: string; providerId: string; requestType: string; status: 'failed' | 'rate_limited'; error: string; bullJobId?: string },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `INSERT INTO enrichment_requests (workspace_id, lead_id, provider_id, request_type, status, error, bull_job_id, completed_at)
     SELECT $1, l.id, $3, $4, $5, $6, $7, now() FROM leads l WHERE l.id = $2 AND l.workspace_id = $1`,
    [workspaceId, failure.leadId, failure.providerId, failure.requestType, failure.status, failure.error.slice(0, 500), failure.bullJobId ?? null],
  );
}

// ---------------------------------------------------------------------------------------------
// Batches (enrichment_jobs + enrichment_job_items)

export type EnrichmentItemStatus = 'pending' | 'enriched' | 'cached' | 'no_match' | 'failed' | 'skipped_no_credits';

export interface EnrichmentJobRow {
  id: string;
  workspace_id: string;
  provider_id: string | null;
  enrichment_types: string[];
  lead_ids: string[];
  bull_job_id: string | null;
  status: 'pending' | 'processing' | 'completed' | 'failed' | 'cancelled';
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  skipped_cached: number;
  no_match: number;
  skipped_no_credits: number;
  stop_reason: string | null;
  errors: Array<{ leadId: string; error: string }>;
  started_at: Date | null;
  completed_at: Date | null;
}

/** Creates the durable record of a batch (what the web app does before enqueueing batch-enrich). */
export async function createEnrichmentJob(
  db: Queryable,
  workspaceId: string,
  batch: { providerId: string; enrichmentTypes: readonly string[]; leadIds: readonly string[]; requestedBy?: string },
): Promise<EnrichmentJobRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<EnrichmentJobRow>(
    `INSERT INTO enrichment_jobs (workspace_id, provider_id, enrichment_types, lead_ids, total, requested_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [workspaceId, batch.providerId, batch.enrichmentTypes, batch.leadIds, new Set(batch.leadIds).size, batch.requestedBy ?? null],
  );
  return rows[0]!;
}

/**
 * A batch's counts, from its items: each child settles only its own item, so no row is shared by
 * a batch's children (a counters row updated in every result transaction serialised them: the
 * bench sampled 11-15 sessions waiting on it). Failed items' errors: the first 100.
 */
const ITEM_COUNTS = `
  SELECT count(*) FILTER (WHERE i.status <> 'pending')::int AS processed,
         count(*) FILTER (WHERE i.status IN ('enriched', 'cached'))::int AS succeeded,
         count(*) FILTER (WHERE i.status = 'failed')::int AS failed,
         count(*) FILTER (WHERE i.status = 'cached')::int AS skipped_cached,
         count(*) FILTER (WHERE i.status = 'no_match')::int AS no_match,
         count(*) FILTER (WHERE i.status = 'skipped_no_credits')::int AS skipped_no_credits,
         coalesce((SELECT jsonb_agg(jsonb_build_object('leadId', f.lead_id, 'error', f.error) ORDER BY f.updated_at, f.lead_id)
                     FROM (SELECT lead_id, error, updated_at FROM enrichment_job_items
                            WHERE enrichment_job_id = j.id AND status = 'failed' ORDER BY updated_at, lead_id LIMIT 100) f), '[]'::jsonb) AS errors
    FROM enrichment_job_items i WHERE i.enrichment_job_id = j.id`;

/** The batch with its counts (from its items). */
export async function getEnrichmentJob(db: Queryable, workspaceId: string, enrichmentJobId: string): Promise<EnrichmentJobRow | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<EnrichmentJobRow>(
    `SELECT j.id, j.workspace_id, j.provider_id, j.enrichment_types, j.lead_ids, j.bull_job_id, j.status, j.total, j.stop_reason,
            j.started_at, j.completed_at, c.*
       FROM enrichment_jobs j CROSS JOIN LATERAL (${ITEM_COUNTS}) c
      WHERE j.id = $1 AND j.workspace_id = $2`,
    [enrichmentJobId, workspaceId],
  );
  return rows[0];
}

/**
 * Completes a batch whose items have all settled (batch-enrich, once it sees them so): status
 * `completed`, completed_at, and the final counts stored on the row. Returns the batch, or
 * undefined while items are still pending.
 */
export async function completeEnrichmentJob(db: Queryable, workspaceId: string, enrichmentJobId: string): Promise<EnrichmentJobRow | undefined> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE enrichment_jobs j SET status = 'completed', completed_at = coalesce(j.completed_at, now()),
            processed = c.processed, succeeded = c.succeeded, failed = c.failed, skipped_cached = c.skipped_cached,
            no_match = c.no_match, skipped_no_credits = c.skipped_no_credits, errors = c.errors
       FROM enrichment_jobs j2 CROSS JOIN LATERAL (${ITEM_COUNTS.replaceAll('j.id', 'j2.id')}) c
      WHERE j.id = $1 AND j.workspace_id = $2 AND j2.id = j.id AND c.processed >= j.total AND j.status <> 'completed'`,
    [enrichmentJobId, workspaceId],
  );
  const job = await getEnrichmentJob(db, workspaceId, enrichmentJobId);
  return job && job.status === 'completed' ? job : undefined;
}

/**
 * Starts (or resumes) a batch: checks every lead belongs to the workspace, records one pending
 * item per lead (existing items keep their state), sets total and `processing`, and returns the
 * leads still pending: those are the children to enqueue (again, after a crash; Bull ignores an
 * id it still knows and a settled item never runs twice).
 */
export async function startEnrichmentJob(
  pool: Pool,
  workspaceId: string,
  enrichmentJobId: string,
  leadIds: readonly string[],
  bullJobId: string,
): Promise<{ job: EnrichmentJobRow; pending: string[] }> {
  assertWorkspaceId(workspaceId);
  const unique = [...new Set(leadIds)];
  await assertAllInWorkspace(pool, 'leads', workspaceId, unique);
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<EnrichmentJobRow>(
      `UPDATE enrichment_jobs SET bull_job_id = $3, started_at = coalesce(started_at, now()),
         status = CASE WHEN status = 'pending' THEN 'processing' ELSE status END
       WHERE id = $1 AND workspace_id = $2 RETURNING *`,
      [enrichmentJobId, workspaceId, bullJobId],
    );
    if (!rows[0]) throw new EnrichmentJobNotFoundError(workspaceId, enrichmentJobId);
    await tx.query(
      `INSERT INTO enrichment_job_items (enrichment_job_id, lead_id, workspace_id)
       SELECT $1, unnest($3::uuid[]), $2 ON CONFLICT DO NOTHING`,
      [enrichmentJobId, workspaceId, unique],
    );
    const counted = await tx.query<EnrichmentJobRow>(
      `UPDATE enrichment_jobs SET total = (SELECT count(*) FROM enrichment_job_items WHERE enrichment_job_id = $1)
       WHERE id = $1 AND workspace_id = $2 RETURNING *`,
      [enrichmentJobId, workspaceId],
    );
    const pending = await tx.query<{ lead_id: string }>(
      `SELECT lead_id FROM enrichment_job_items WHERE enrichment_job_id = $1 AND status = 'pending' ORDER BY lead_id`,
      [enrichmentJobId],
    );
    return { job: counted.rows[0]!, pending: pending.rows.map((r) => r.lead_id) };
  });
}

export class EnrichmentJobNotFoundError extends Error {
  override name = 'EnrichmentJobNotFoundError';
  readonly permanent = true;
  constructor(workspaceId: string, enrichmentJobId: string) {
    super(`enrichment job ${enrichmentJobId} not found in workspace ${workspaceId}`);
  }
}

/**
 * Moves a pending item to its final state (once: a settled item stays as it is); the batch's
 * counts are read from its items.
 */
async function settleItem(
  db: Queryable,
  workspaceId: string,
  enrichmentJobId: string,
  leadId: string,
  status: Exclude<EnrichmentItemStatus, 'pending'>,
  error: string | null,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE enrichment_job_items SET status = $4, error = $5
     WHERE enrichment_job_id = $1 AND lead_id = $2 AND workspace_id = $3 AND status = 'pending'`,
    [enrichmentJobId, leadId, workspaceId, status, error],
  );
  return (rowCount ?? 0) > 0;
}

/** Settles a batch item outside a result transaction (a child that failed for good). */
export async function settleEnrichmentJobItem(
  pool: Pool,
  workspaceId: string,
  enrichmentJobId: string,
  leadId: string,
  status: 'failed' | 'skipped_no_credits',
  error: string | null,
): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  return withTransaction(pool, (tx) => settleItem(tx, workspaceId, enrichmentJobId, leadId, status, error));
}

/**
 * Stops a batch whose workspace ran out of credits: records the reason and skips every item still
 * pending (counted as skipped_no_credits). Returns how many were skipped.
 */
export async function stopEnrichmentJob(pool: Pool, workspaceId: string, enrichmentJobId: string, reason: string): Promise<number> {
  assertWorkspaceId(workspaceId);
  return withTransaction(pool, async (tx) => {
    await tx.query('UPDATE enrichment_jobs SET stop_reason = coalesce(stop_reason, $3) WHERE id = $1 AND workspace_id = $2', [
      enrichmentJobId,
      workspaceId,
      reason,
    ]);
    const { rowCount } = await tx.query(
      `UPDATE enrichment_job_items SET status = 'skipped_no_credits'
        WHERE enrichment_job_id = $1 AND workspace_id = $2 AND status = 'pending'`,
      [enrichmentJobId, workspaceId],
    );
    return rowCount ?? 0;
  });
}

/** The batch's stop reason, if it was stopped (children check it before calling a provider). */
export async function enrichmentJobStopReason(db: Queryable, workspaceId: string, enrichmentJobId: string): Promise<string | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ stop_reason: string | null }>('SELECT stop_reason FROM enrichment_jobs WHERE id = $1 AND workspace_id = $2', [
    enrichmentJobId,
    workspaceId,
  ]);
  return rows[0]?.stop_reason ?? null;
}

// ---------------------------------------------------------------------------------------------
// verify-email and company-enrich

/** id and address of each lead (all must belong to the workspace). */
export async function listLeadEmails(db: Queryable, workspaceId: string, leadIds: readonly string[]): Promise<Array<{ id: string; email: string }>> {
  assertWorkspaceId(workspaceId);
  await assertAllInWorkspace(db, 'leads', workspaceId, leadIds);
  const { rows } = await db.query<{ id: string; email: string }>(
    'SELECT id, email FROM leads WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND deleted_at IS NULL ORDER BY id',
    [workspaceId, [...new Set(leadIds)]],
  );
  return rows;
}

export type LeadEmailStatus = 'valid' | 'invalid' | 'risky' | 'unknown';

/**
 * Records a verification on every lead of the workspace with this address: email_status,
 * email_checked_at and an enriched_data `email` row (the previous one of the provider soft-deleted).
 * Returns the leads updated.
 */
export async function recordEmailVerification(
  pool: Pool,
  workspaceId: string,
  v: { email: string; status: LeadEmailStatus; providerId: string | null; data: Record<string, unknown>; confidence?: number; expiresAt: Date },
): Promise<string[]> {
  assertWorkspaceId(workspaceId);
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE leads SET email_status = $3, email_checked_at = now()
       WHERE workspace_id = $1 AND email = $2 AND deleted_at IS NULL RETURNING id`,
      [workspaceId, v.email.trim().toLowerCase(), v.status],
    );
    const ids = rows.map((r) => r.id);
    if (ids.length === 0) return ids;
    const verification = v.status === 'valid' ? 'verified' : v.status;
    await tx.query(
      `UPDATE enriched_data SET deleted_at = now()
       WHERE workspace_id = $1 AND lead_id = ANY($2::uuid[]) AND data_type = 'email' AND provider_id IS NOT DISTINCT FROM $3 AND deleted_at IS NULL`,
      [workspaceId, ids, v.providerId],
    );
    await tx.query(
      `INSERT INTO enriched_data (workspace_id, lead_id, data_type, provider_id, data, confidence_score, verification_status, expires_at)
       SELECT $1, unnest($2::uuid[]), 'email', $3, $4, $5, $6, $7`,
      [workspaceId, ids, v.providerId, v.data, v.confidence ?? null, verification, v.expiresAt],
    );
    return ids;
  });
}

/**
 * Leads of the workspace at a company domain: their address's domain or their website's host is
 * the domain (or a subdomain of it). `leadIds` narrows the set (each must belong to the workspace).
 */
export async function listLeadIdsAtDomain(db: Queryable, workspaceId: string, domain: string, leadIds?: readonly string[]): Promise<string[]> {
  assertWorkspaceId(workspaceId);
  if (leadIds) await assertAllInWorkspace(db, 'leads', workspaceId, leadIds);
  const d = domain.trim().toLowerCase();
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM leads
     WHERE workspace_id = $1 AND deleted_at IS NULL
       AND ($3::uuid[] IS NULL OR id = ANY($3::uuid[]))
       AND (split_part(email, '@', 2) = $2 OR split_part(email, '@', 2) LIKE '%.' || $2
            OR lower(regexp_replace(coalesce(website, ''), '^(https?://)?(www\\.)?([^/:]+).*$', '\\3')) = $2)
     ORDER BY id`,
    [workspaceId, d, leadIds ? [...new Set(leadIds)] : null],
  );
  return rows.map((r) => r.id);
}

/**
 * Attaches company information to leads: an enriched_data `company_info` row per lead (the
 * provider's previous one soft-deleted), empty company/industry/website filled, enrichment_data
 * merged, last_enriched_at.
 */
export async function attachCompanyInfo(
  pool: Pool,
  workspaceId: string,
  c: {
    leadIds: readonly string[];
    providerId: string;
    data: Record<string, unknown>;
    fields: Pick<LeadFieldUpdate, 'company' | 'industry' | 'website'>;
    expiresAt: Date;
  },
): Promise<number> {
  assertWorkspaceId(workspaceId);
  if (c.leadIds.length === 0) return 0;
  return withTransaction(pool, async (tx) => {
    await tx.query(
      `UPDATE enriched_data SET deleted_at = now()
       WHERE workspace_id = $1 AND lead_id = ANY($2::uuid[]) AND data_type = 'company_info' AND provider_id = $3 AND deleted_at IS NULL`,
      [workspaceId, c.leadIds, c.providerId],
    );
    await tx.query(
      `INSERT INTO enriched_data (workspace_id, lead_id, data_type, provider_id, data, verification_status, expires_at)
       SELECT $1, l.id, 'company_info', $3, $4, 'verified', $5 FROM leads l WHERE l.workspace_id = $1 AND l.id = ANY($2::uuid[])`,
      [workspaceId, c.leadIds, c.providerId, c.data, c.expiresAt],
    );
    const { rowCount } = await tx.query(
      `UPDATE leads SET
         company = coalesce(nullif(company, ''), $3), industry = coalesce(nullif(industry, ''), $4), website = coalesce(nullif(website, ''), $5),
         enrichment_data = enrichment_data || jsonb_build_object('company_info', $6::jsonb), last_enriched_at = now()
       WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
      [workspaceId, c.leadIds, c.fields.company ?? null, c.fields.industry ?? null, c.fields.website ?? null, JSON.stringify(c.data)],
    );
    return rowCount ?? 0;
  });
}
