import {
  acquireSyncLease,
  advanceSyncCursor,
  applyInboundLeads,
  claimOutbox,
  leadsForSync,
  objectMapByLocal,
  objectMapByRemote,
  type ObjectMapWrite,
  type OutboxFailure,
  type Pool,
  recordObjectMaps,
  recordSyncLog,
  releaseOutboxClaims,
  releaseSyncLease,
  settleOutbox,
  unmapRemoteDeleted,
  withTransaction,
} from '@coldcopy/db';
import type { IntegrationConfig } from '../config.js';
import {
  emailPropertyOf,
  inboundColumnsOf,
  inboundFieldsOf,
  leadHash,
  type RecordMapping,
  remotePropertiesOf,
  remotePropertyNames,
  syncHash,
} from '../domain/field-mapping.js';
import type { SalesforceAccount, SalesforceApi } from '../providers/salesforce-client.js';
import { emptyCounts, type SyncCounts } from './hubspot-sync.js';

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

export async function drainSalesforceOutbox(
  deps: SalesforceSyncDeps,
  workspaceId: string,
  account: SalesforceAccount,
  target: { sobject: string; objectType: string; mapping: RecordMapping; owner: string },
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const counts = emptyCounts();
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const startedAt = new Date();
  const errors: Array<{ id: string; error: string }> = [];
  for (;;) {
    signal?.throwIfAborted();
    const rows = await claimOutbox(deps.pool, workspaceId, {
      ...scope,
      operation: 'upsert',
      owner: target.owner,
      limit: BATCH,
      claimMs: deps.config.leaseMs,
      dueBy: startedAt,
    });
    if (rows.length === 0) break;
    const leads = new Map(
      (
        await leadsForSync(
          deps.pool,
          workspaceId,
          rows.map((r) => r.local_id),
        )
      ).map((l) => [l.id, l]),
    );
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
    const sent: Array<{ id: string; changeSeq: number }> = [];
    const failed: OutboxFailure[] = [];
    const batch: Array<{ row: (typeof rows)[number]; hash: string; record: Record<string, string | null> }> = [];
    for (const row of rows) {
      counts.processed++;
      const lead = leads.get(row.local_id);
      const hash = lead && leadHash(target.mapping, lead);
      if (!lead || lead.deleted_at || maps.get(lead.id)?.last_synced_hash === hash) {
        sent.push({ id: row.id, changeSeq: row.change_seq });
        counts.unchanged++;
        continue;
      }
      const props = remotePropertiesOf(target.mapping, lead, !maps.has(lead.id));
      batch.push({ row, hash: hash!, record: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v === '' ? null : v])) });
    }
    const writes: ObjectMapWrite[] = [];
    if (batch.length) {
      let results;
      try {
        results = await deps.salesforce.upsert(
          account,
          target.sobject,
          target.mapping.idProperty,
          batch.map((b) => b.record),
          signal,
        );
      } catch (err) {
        await releaseOutboxClaims(
          deps.pool,
          workspaceId,
          target.owner,
          rows.map((r) => r.id),
        );
        throw err;
      }
      batch.forEach((b, i) => {
        const r = results[i];
        if (r?.success && r.id) {
          writes.push({ localId: b.row.local_id, remoteId: r.id, hash: b.hash, remoteVersion: null });
          sent.push({ id: b.row.id, changeSeq: b.row.change_seq });
          counts.succeeded++;
        } else {
          const why = (r?.errors ?? []).map((e) => `${e.statusCode ?? 'ERROR'}: ${e.message ?? ''}`).join('; ') || 'no result for this record';
          failed.push({ id: b.row.id, error: why.slice(0, 300), retryInMs: deps.config.outboxRetryMs * 2 ** b.row.attempts });
          errors.push({ id: b.row.local_id, error: r?.errors?.[0]?.statusCode ?? 'ERROR' });
          counts.failed++;
        }
      });
    }
    await withTransaction(deps.pool, async (tx) => {
      await recordObjectMaps(tx, workspaceId, scope, 'push', writes);
      await settleOutbox(tx, workspaceId, target.owner, { sent, failed, maxAttempts: deps.config.outboxMaxAttempts });
    });
    counts.retried += rows.filter((r) => r.attempts > 0).length;
  }
  await recordSyncLog(deps.pool, workspaceId, {
    provider: PROVIDER,
    syncType: 'outbox',
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

export async function pullSalesforce(
  deps: SalesforceSyncDeps,
  workspaceId: string,
  account: SalesforceAccount,
  target: { sobject: string; objectType: string; mapping: RecordMapping; owner: string; full: boolean },
  signal?: AbortSignal,
): Promise<SyncCounts & { leaseHeld?: true; unmapped?: number }> {
  const counts = emptyCounts();
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const state = await acquireSyncLease(deps.pool, workspaceId, { ...scope, direction: 'inbound', cursorType: 'timestamp' }, target.owner, deps.config.leaseMs);
  if (!state) return { ...counts, leaseHeld: true };
  const startedAt = new Date();
  const cursorBefore = state.cursor_value;
  let cursor = cursorBefore;
  // eslint-disable-next-line no-useless-assignment -- the count starts at zero on every path
  let unmapped = 0;
  const emailProp = emailPropertyOf(target.mapping);
  const fields = remotePropertyNames(target.mapping).filter((f) => f !== 'Id');
  const columns = inboundColumnsOf(target.mapping);
  try {
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
        const known = new Map(
          (
            await objectMapByRemote(
              tx,
              workspaceId,
              scope,
              page.map((r) => r.Id!),
            )
          ).map((m) => [m.remote_id, m]),
        );
        const byEmail = new Map<string, { r: Record<string, string | null>; hash: string }>();
        for (const r of page) {
          counts.processed++;
          const hash = syncHash(target.mapping, r);
          const email = r[emailProp];
          if (!email || known.get(r.Id!)?.last_synced_hash === hash) {
            counts.unchanged++;
            continue;
          }
          byEmail.set(email.trim().toLowerCase(), { r, hash });
        }
        const changed = [...byEmail.values()];
        const ids = await applyInboundLeads(
          tx,
          workspaceId,
          columns,
          changed.map(({ r }) => ({ email: r[emailProp]!, fields: inboundFieldsOf(target.mapping, r) })),
        );
        await recordObjectMaps(
          tx,
          workspaceId,
          scope,
          'pull',
          changed.map(({ r, hash }) => ({
            localId: ids.get(r[emailProp]!.trim().toLowerCase())!,
            remoteId: r.Id!,
            hash,
            remoteVersion: r.SystemModstamp ?? null,
          })),
        );
        counts.succeeded += changed.length;
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
    unmapped = await pullSalesforceDeletes(deps, workspaceId, account, target, signal);
    await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: true });
  } catch (err) {
    await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: false, error: (err as Error).message });
    throw err;
  }
  await recordSyncLog(deps.pool, workspaceId, {
    provider: PROVIDER,
    syncType: target.full ? 'full' : 'incremental',
    direction: 'inbound',
    status: 'completed',
    processed: counts.processed,
    succeeded: counts.succeeded,
    failed: 0,
    errors: [],
    cursorBefore,
    cursorAfter: cursor,
    startedAt,
  });
  return { ...counts, unmapped };
}

/** The `deleted` window since the last one (Salesforce keeps 30 days): unmaps those records. */
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
    const count = await unmapRemoteDeleted(tx, workspaceId, { provider: PROVIDER, objectType: target.objectType }, ids);
    await advanceSyncCursor(tx, workspaceId, state.id, target.owner, { value: latestDateCovered.toISOString(), leaseMs: deps.config.leaseMs });
    return count;
  });
  await releaseSyncLease(deps.pool, workspaceId, state.id, target.owner, { ok: true });
  return n;
}
