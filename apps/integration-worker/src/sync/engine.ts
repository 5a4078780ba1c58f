import {
  acquireSyncLease,
  applyInboundLeads,
  claimOutbox,
  type LeadErasure,
  leadsForSync,
  objectMapByLocal,
  objectMapByRemote,
  type ObjectMapScope,
  type ObjectMapWrite,
  type OutboxFailure,
  type OutboxOperation,
  type OutboxRow,
  type Pool,
  type Queryable,
  recordObjectMaps,
  recordSyncLog,
  releaseOutboxClaims,
  releaseSyncLease,
  settleOutbox,
  softDeleteLeadsOfRemote,
  type SyncLead,
  type SyncStateKey,
  type SyncStateRow,
  unmapRemoteDeleted,
  withTransaction,
} from '@coldcopy/db';
import type { IntegrationConfig } from '../config.js';
import { inboundColumnsOf, inboundFieldsOf, leadHash, type RecordMapping, syncHash } from '../domain/field-mapping.js';

/**
 * What the HubSpot and Salesforce halves of the sync engine share (providers.md §11): the outbox
 * claim/settle loop, the choice of which claimed leads need a write, the pull's lease and sync log,
 * and the application of one pulled page. The provider files keep only their calls and answers.
 */
export interface SyncCounts {
  processed: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** records skipped because nothing changed (echo suppression, overlap duplicates) */
  unchanged: number;
}

export const emptyCounts = (): SyncCounts => ({ processed: 0, succeeded: 0, failed: 0, retried: 0, unchanged: 0 });

/** Adds the counts of further runs into the first (returned). */
export function addCounts<C extends SyncCounts>(into: C, ...more: SyncCounts[]): C {
  for (const c of more) for (const k of Object.keys(emptyCounts()) as Array<keyof SyncCounts>) into[k] += c[k];
  return into;
}

export interface SyncEngineDeps {
  readonly pool: Pool;
  readonly config: IntegrationConfig;
}

/** What one provider call made of a claimed batch. */
export interface BatchOutcome {
  readonly sent: Array<{ id: string; changeSeq: number }>;
  readonly failed: OutboxFailure[];
  readonly writes: ObjectMapWrite[];
  /** remote ids deleted at the provider: their identity-map rows are closed (deleted_at, hash cleared) */
  readonly unmap: string[];
}

export const emptyOutcome = (): BatchOutcome => ({ sent: [], failed: [], writes: [], unmap: [] });

export interface DrainTarget {
  readonly scope: ObjectMapScope;
  readonly operation: OutboxOperation;
  readonly owner: string;
  readonly batchSize: number;
  /**
   * Whether a failed call may have written at the provider anyway (a timeout, a 5xx): the batch's
   * claims are then kept, so its rows come back `in_doubt` to the next claim. Default: never (the
   * write is idempotent by external id, so a batch sent twice does no harm).
   */
  readonly mayHaveWritten?: (err: unknown) => boolean;
}

/**
 * Drains the outbox rows of one scope and operation due at the start: claims a batch, lets `send`
 * make the provider call, then records the identity map and settles the rows in one transaction.
 * When `send` throws the batch's claims are given back as they were (unless the target says the
 * call may have written: see `mayHaveWritten`). Per-row errors go into the sync log (ids and
 * error categories, never values).
 */
export async function drainOutbox(
  deps: SyncEngineDeps,
  workspaceId: string,
  target: DrainTarget,
  send: (rows: OutboxRow[], counts: SyncCounts, errors: Array<{ id: string; error: string }>) => Promise<BatchOutcome>,
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const counts = emptyCounts();
  const startedAt = new Date();
  const errors: Array<{ id: string; error: string }> = [];
  for (;;) {
    signal?.throwIfAborted();
    const rows = await claimOutbox(deps.pool, workspaceId, {
      ...target.scope,
      operation: target.operation,
      owner: target.owner,
      limit: target.batchSize,
      claimMs: deps.config.leaseMs,
      dueBy: startedAt,
    });
    if (rows.length === 0) break;
    let outcome: BatchOutcome;
    try {
      outcome = await send(rows, counts, errors);
    } catch (err) {
      if (target.mayHaveWritten?.(err)) throw err;
      await releaseOutboxClaims(
        deps.pool,
        workspaceId,
        target.owner,
        rows.map((r) => r.id),
      );
      throw err;
    }
    await withTransaction(deps.pool, async (tx) => {
      await recordObjectMaps(tx, workspaceId, target.scope, 'push', outcome.writes);
      await unmapRemoteDeleted(tx, workspaceId, target.scope, outcome.unmap);
      await settleOutbox(tx, workspaceId, target.owner, { sent: outcome.sent, failed: outcome.failed, maxAttempts: deps.config.outboxMaxAttempts });
    });
    counts.retried += rows.filter((r) => r.attempts > 0).length;
  }
  await recordSyncLog(deps.pool, workspaceId, {
    provider: target.scope.provider,
    syncType:
      target.operation === 'upsert' ? (target.scope.objectType === 'contacts' ? 'outbox' : `outbox:${target.scope.objectType}`) : `outbox:${target.operation}`,
    direction: 'outbound',
    status: counts.failed ? 'partial' : 'completed',
    processed: counts.processed,
    succeeded: counts.succeeded,
    failed: counts.failed,
    errors,
    startedAt,
  });
  return counts;
}

/** A claimed upsert row whose lead differs from what was last synced. */
export interface UpsertCandidate {
  readonly row: OutboxRow;
  readonly lead: SyncLead;
  readonly hash: string;
  /** no identity-map row yet: the record is created (CRM-owned fields are written too) */
  readonly created: boolean;
}

/**
 * The claimed upsert rows that need a write. The others are settled in `outcome.sent` without a
 * call: a lead deleted locally (its deletion is a separate operation) or one whose mapped fields
 * hash to what was last synced (nothing changed, or the change came from the provider).
 */
export async function upsertCandidates(
  deps: SyncEngineDeps,
  workspaceId: string,
  scope: ObjectMapScope,
  mapping: RecordMapping,
  rows: readonly OutboxRow[],
  counts: SyncCounts,
  outcome: BatchOutcome,
): Promise<UpsertCandidate[]> {
  const ids = rows.map((r) => r.local_id);
  const leads = new Map((await leadsForSync(deps.pool, workspaceId, ids)).map((l) => [l.id, l]));
  const maps = new Map((await objectMapByLocal(deps.pool, workspaceId, scope, ids)).map((m) => [m.local_id, m]));
  const out: UpsertCandidate[] = [];
  for (const row of rows) {
    counts.processed++;
    const lead = leads.get(row.local_id);
    const hash = lead && leadHash(mapping, lead);
    if (!lead || lead.deleted_at || maps.get(lead.id)?.last_synced_hash === hash) {
      outcome.sent.push({ id: row.id, changeSeq: row.change_seq });
      counts.unchanged++;
      continue;
    }
    out.push({ row, lead, hash: hash!, created: !maps.has(lead.id) });
  }
  return out;
}

/** A claimed delete row whose lead is mapped to a live remote record. */
export interface DeleteCandidate {
  readonly row: OutboxRow;
  readonly remoteId: string;
}

/**
 * The claimed delete (or privacy delete) rows that need a call; a row whose lead was never synced,
 * or whose record is already gone at the provider, is settled without one.
 */
export async function deleteCandidates(
  deps: SyncEngineDeps,
  workspaceId: string,
  scope: ObjectMapScope,
  rows: readonly OutboxRow[],
  counts: SyncCounts,
  outcome: BatchOutcome,
): Promise<DeleteCandidate[]> {
  const maps = new Map(
    (
      await objectMapByLocal(
        deps.pool,
        workspaceId,
        scope,
        rows.map((r) => r.local_id),
      )
    ).map((m) => [m.local_id, m]),
  );
  const out: DeleteCandidate[] = [];
  for (const row of rows) {
    counts.processed++;
    const map = maps.get(row.local_id);
    if (!map || map.deleted_at) {
      outcome.sent.push({ id: row.id, changeSeq: row.change_seq });
      counts.unchanged++;
      continue;
    }
    out.push({ row, remoteId: map.remote_id });
  }
  return out;
}

/** Settles a delete the provider confirmed (or found already done): the row is done and the record unmapped. */
export function deleted(c: DeleteCandidate, counts: SyncCounts, outcome: BatchOutcome): void {
  outcome.sent.push({ id: c.row.id, changeSeq: c.row.change_seq });
  outcome.unmap.push(c.remoteId);
  counts.succeeded++;
}

/** The retry wait of a row the provider refused (doubles per attempt). */
export const retryInMs = (deps: SyncEngineDeps, row: OutboxRow) => deps.config.outboxRetryMs * 2 ** row.attempts;

export interface PullTarget {
  readonly scope: ObjectMapScope;
  readonly owner: string;
  readonly full: boolean;
}

/**
 * One pull under the lease of its inbound timestamp sync state: `run` pages through the provider
 * and returns the cursor it reached; the lease is released either way (a failure counts on the
 * state) and a completed run is logged. `leaseHeld` when another owner's lease runs.
 */
export async function runPull<R extends object>(
  deps: SyncEngineDeps,
  workspaceId: string,
  target: PullTarget,
  run: (state: SyncStateRow, counts: SyncCounts) => Promise<{ cursor: string | null; extra?: R }>,
): Promise<SyncCounts & Partial<R> & { leaseHeld?: true }> {
  const counts = emptyCounts();
  const key: SyncStateKey = { ...target.scope, direction: 'inbound', cursorType: 'timestamp' };
  const state = await acquireSyncLease(deps.pool, workspaceId, key, target.owner, deps.config.leaseMs);
  if (!state) return { ...counts, leaseHeld: true } as SyncCounts & Partial<R> & { leaseHeld: true };
  const startedAt = new Date();
  let result: { cursor: string | null; extra?: R };
  try {
    result = await run(state, counts);
    await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: true });
  } catch (err) {
    await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: false, error: (err as Error).message });
    throw err;
  }
  await recordSyncLog(deps.pool, workspaceId, {
    provider: target.scope.provider,
    syncType: target.full ? 'full' : 'incremental',
    direction: 'inbound',
    status: 'completed',
    processed: counts.processed,
    succeeded: counts.succeeded,
    failed: 0,
    errors: [],
    cursorBefore: state.cursor_value,
    cursorAfter: result.cursor,
    startedAt,
  });
  return { ...counts, ...(result.extra ?? {}) } as SyncCounts & Partial<R>;
}

/** A record of a pulled page, as every provider reads it. */
export interface PulledRecord {
  readonly remoteId: string;
  readonly email: string | null | undefined;
  readonly properties: Record<string, string | null>;
  readonly remoteVersion: string | null;
}

/**
 * Applies one pulled page in the caller's transaction (the one that moves the cursor): records
 * whose hash equals the stored one (our own echo, an overlap duplicate) or without an address are
 * skipped; one change per address (two records with one email map to one lead: the later wins).
 */
export async function applyPulledPage(
  tx: Queryable,
  workspaceId: string,
  scope: ObjectMapScope,
  mapping: RecordMapping,
  page: readonly PulledRecord[],
  counts: SyncCounts,
): Promise<void> {
  const known = new Map(
    (
      await objectMapByRemote(
        tx,
        workspaceId,
        scope,
        page.map((r) => r.remoteId),
      )
    ).map((m) => [m.remote_id, m]),
  );
  const byEmail = new Map<string, { r: PulledRecord; email: string; hash: string }>();
  for (const r of page) {
    counts.processed++;
    const hash = syncHash(mapping, r.properties);
    if (!r.email || known.get(r.remoteId)?.last_synced_hash === hash) {
      counts.unchanged++;
      continue;
    }
    byEmail.set(r.email.trim().toLowerCase(), { r, email: r.email, hash });
  }
  const changed = [...byEmail.values()];
  const ids = await applyInboundLeads(
    tx,
    workspaceId,
    inboundColumnsOf(mapping),
    changed.map(({ r, email }) => ({ email, fields: inboundFieldsOf(mapping, r.properties) })),
  );
  await recordObjectMaps(
    tx,
    workspaceId,
    scope,
    'pull',
    changed.map(({ r, email, hash }) => ({ localId: ids.get(email.trim().toLowerCase())!, remoteId: r.remoteId, hash, remoteVersion: r.remoteVersion })),
  );
  counts.succeeded += changed.length;
}

/**
 * Records gone at a provider, in the caller's transaction (providers.md §11.7): their leads are
 * soft-deleted (or, for a privacy deletion, erased: `erasure`) and their identity maps closed.
 * The one path of every provider's deletions into ColdCopy. Returns how many maps were open.
 */
export async function applyRemoteDeletions(
  tx: Queryable,
  workspaceId: string,
  scope: ObjectMapScope,
  remoteIds: readonly string[],
  erasure?: LeadErasure,
): Promise<number> {
  await softDeleteLeadsOfRemote(tx, workspaceId, scope, remoteIds, erasure);
  return unmapRemoteDeleted(tx, workspaceId, scope, remoteIds);
}
