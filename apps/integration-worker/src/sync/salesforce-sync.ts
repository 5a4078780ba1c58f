import { acquireSyncLease, advanceSyncCursor, type OutboxOperation, type Pool, releaseSyncLease, withTransaction } from '@coldcopy/db';
import type { IntegrationConfig } from '../config.js';
import { emailPropertyOf, type RecordMapping, remotePropertiesOf, remotePropertyNames } from '../domain/field-mapping.js';
import type { SalesforceAccount, SalesforceApi } from '../providers/salesforce-client.js';
import {
  applyPulledPage,
  applyRemoteDeletions,
  deleteCandidates,
  deleted,
  drainOutbox,
  emptyOutcome,
  retryInMs,
  runPull,
  type SyncCounts,
  upsertCandidates,
} from './engine.js';

/**
 * The Salesforce half of the sync engine (providers.md §8, §11). Push: the outbox in batches of
 * 200 through sObject Collections upsert on the external id (the lead id), so a batch sent twice
 * (a worker killed after the call, before its commit) updates the same records and never creates
 * a duplicate; per-record errors stay on their outbox row. Pull: SOQL keyset on
 * `(SystemModstamp, Id)` (a second holds many records), 200 per page, each page applied and the
 * cursor moved in one transaction; a run starts `SYNC_OVERLAP_MS` before the stored cursor and
 * drops what it already has by hash. Then the `deleted` window unmaps what Salesforce deleted.
 */
export interface SalesforceSyncDeps {
  readonly pool: Pool;
  readonly salesforce: SalesforceApi;
  readonly config: IntegrationConfig;
}

const PROVIDER = 'salesforce';
const BATCH = 200;
const soqlTime = (iso: string) => `${new Date(iso).toISOString().slice(0, 19)}Z`;

/**
 * Push (`operation: 'upsert'`, the default): collections of 200 upserted on the external id.
 *
 * Deletions from ColdCopy (providers.md §11.7): `delete` and `privacy_delete` both delete the
 * records through sObject Collections (≤ 200, `allOrNone: false`, a result per id). Salesforce's
 * REST API has no GDPR erase of a record: a deleted record sits in the org's recycle bin (15 days)
 * before it is purged. `ENTITY_IS_DELETED` (already gone) settles the row like a success; other
 * record errors stay on their row and are retried.
 */
export function drainSalesforceOutbox(
  deps: SalesforceSyncDeps,
  workspaceId: string,
  account: SalesforceAccount,
  target: { sobject: string; objectType: string; mapping: RecordMapping; owner: string; operation?: OutboxOperation },
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const operation = target.operation ?? 'upsert';
  return drainOutbox(
    deps,
    workspaceId,
    { scope, operation, owner: target.owner, batchSize: BATCH },
    async (rows, counts, errors) => {
      const outcome = emptyOutcome();
      if (operation === 'upsert') {
        const candidates = await upsertCandidates(deps, workspaceId, scope, target.mapping, rows, counts, outcome);
        if (candidates.length === 0) return outcome;
        const records = candidates.map((c) =>
          Object.fromEntries(Object.entries(remotePropertiesOf(target.mapping, c.lead, c.created)).map(([k, v]) => [k, v === '' ? null : v])),
        );
        const results = await deps.salesforce.upsert(account, target.sobject, target.mapping.idProperty, records, signal);
        candidates.forEach((b, i) => {
          const r = results[i];
          if (r?.success && r.id) {
            outcome.writes.push({ localId: b.row.local_id, remoteId: r.id, hash: b.hash, remoteVersion: null });
            outcome.sent.push({ id: b.row.id, changeSeq: b.row.change_seq });
            counts.succeeded++;
          } else {
            const why = (r?.errors ?? []).map((e) => `${e.statusCode ?? 'ERROR'}: ${e.message ?? ''}`).join('; ') || 'no result for this record';
            outcome.failed.push({ id: b.row.id, error: why.slice(0, 300), retryInMs: retryInMs(deps, b.row) });
            errors.push({ id: b.row.local_id, error: r?.errors?.[0]?.statusCode ?? 'ERROR' });
            counts.failed++;
          }
        });
        return outcome;
      }
      const candidates = await deleteCandidates(deps, workspaceId, scope, rows, counts, outcome);
      if (candidates.length === 0) return outcome;
      const results = await deps.salesforce.destroy(
        account,
        target.sobject,
        candidates.map((c) => c.remoteId),
        signal,
      );
      candidates.forEach((c, i) => {
        const r = results[i];
        const code = r?.errors?.[0]?.statusCode;
        if (r?.success || code === 'ENTITY_IS_DELETED') return deleted(c, counts, outcome);
        outcome.failed.push({
          id: c.row.id,
          error: `${code ?? 'ERROR'}: ${r?.errors?.[0]?.message ?? 'no result'}`.slice(0, 300),
          retryInMs: retryInMs(deps, c.row),
        });
        errors.push({ id: c.row.local_id, error: code ?? 'ERROR' });
        counts.failed++;
      });
      return outcome;
    },
    signal,
  );
}

export function pullSalesforce(
  deps: SalesforceSyncDeps,
  workspaceId: string,
  account: SalesforceAccount,
  target: { sobject: string; objectType: string; mapping: RecordMapping; owner: string; full: boolean },
  signal?: AbortSignal,
): Promise<SyncCounts & { leaseHeld?: true; unmapped?: number }> {
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const emailProp = emailPropertyOf(target.mapping);
  const fields = remotePropertyNames(target.mapping).filter((f) => f !== 'Id');
  return runPull<{ unmapped: number }>(deps, workspaceId, { scope, owner: target.owner, full: target.full }, async (state, counts) => {
    const cursorBefore = state.cursor_value;
    let cursor = cursorBefore;
    // first page: from the stored cursor minus the overlap (or everything); then keyset pages
    let where =
      target.full || !cursorBefore
        ? ''
        : ` WHERE SystemModstamp >= ${soqlTime(new Date(new Date(cursorBefore.split('|')[0]!).getTime() - deps.config.overlapMs).toISOString())}`;
    for (;;) {
      signal?.throwIfAborted();
      const page = await deps.salesforce.query(
        account,
        `SELECT Id, ${fields.join(', ')} FROM ${target.sobject}${where} ORDER BY SystemModstamp, Id LIMIT ${BATCH}`,
        signal,
      );
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      const pageCursor = `${new Date(last.SystemModstamp!).toISOString()}|${last.Id}`;
      await withTransaction(deps.pool, async (tx) => {
        const records = page.map((r) => ({ remoteId: r.Id!, email: r[emailProp], properties: r, remoteVersion: r.SystemModstamp ?? null }));
        await applyPulledPage(tx, workspaceId, scope, target.mapping, records, counts);
        await advanceSyncCursor(tx, workspaceId, state.id, target.owner, {
          value: pageCursor,
          highWatermark: new Date(last.SystemModstamp!),
          fullSync: target.full,
          leaseMs: deps.config.leaseMs,
        });
      });
      cursor = pageCursor;
      if (page.length < BATCH) break;
      const at = soqlTime(last.SystemModstamp!);
      where = ` WHERE SystemModstamp > ${at} OR (SystemModstamp = ${at} AND Id > '${last.Id!.replace(/[^A-Za-z0-9]/g, '')}')`;
    }
    const unmapped = await pullSalesforceDeletes(deps, workspaceId, account, target, signal);
    return { cursor, extra: { unmapped } };
  });
}

/** The `deleted` window since the last one (Salesforce keeps 30 days): soft-deletes the mapped leads and unmaps those records. */
async function pullSalesforceDeletes(
  deps: SalesforceSyncDeps,
  workspaceId: string,
  account: SalesforceAccount,
  target: { sobject: string; objectType: string; owner: string },
  signal?: AbortSignal,
): Promise<number> {
  const scope = { provider: PROVIDER, objectType: `${target.objectType}:deleted` };
  const state = await acquireSyncLease(deps.pool, workspaceId, { ...scope, direction: 'inbound', cursorType: 'timestamp' }, target.owner, deps.config.leaseMs);
  if (!state) return 0;
  const end = new Date();
  // re-read the overlap too (unmapping is idempotent); Salesforce keeps 30 days
  const start = state.cursor_value ? new Date(new Date(state.cursor_value).getTime() - deps.config.overlapMs) : new Date(end.getTime() - 29 * 86_400_000);
  const { ids, latestDateCovered } = await deps.salesforce.deleted(account, target.sobject, start, end, signal);
  const n = await withTransaction(deps.pool, async (tx) => {
    // soft-delete and unmap (providers.md §11.7): the lead stays, marked deleted, and is never pushed again
    const count = await applyRemoteDeletions(tx, workspaceId, { provider: PROVIDER, objectType: target.objectType }, ids);
    await advanceSyncCursor(tx, workspaceId, state.id, target.owner, { value: latestDateCovered.toISOString(), leaseMs: deps.config.leaseMs });
    return count;
  });
  await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: true });
  return n;
}
