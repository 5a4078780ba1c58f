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
  withTransaction,
} from '@coldcopy/db';
import type { IntegrationConfig } from '../config.js';
import { inboundColumnsOf, inboundFieldsOf, leadHash, type RecordMapping, remotePropertiesOf, remotePropertyNames, syncHash } from '../domain/field-mapping.js';
import type { HubspotAccount, HubspotApi, HubspotUpsertInput } from '../providers/hubspot-client.js';

/**
 * The HubSpot half of the sync engine (providers.md §7, §11).
 *
 * Push: the outbox is drained in batches of 100 by batch upsert with `idProperty`; a lead whose
 * mapped fields hash to what was last synced is settled without a call (nothing changed, or the
 * change came from HubSpot). Per-row errors of a 207 stay on their outbox row, which waits and is
 * retried alone; the rest of the batch is done.
 *
 * Pull: `lastmodifieddate >= cursor − overlap`, ascending, pages of 200; each page is applied and
 * the cursor moved in ONE transaction (the cursor never passes an uncommitted page). At HubSpot's
 * 10,000-result cap the query is re-windowed from the last modified time seen. A record whose hash
 * equals the stored one is our own echo or an overlap duplicate and is skipped.
 */
export interface SyncCounts {
  processed: number;
  succeeded: number;
  failed: number;
  retried: number;
  /** records skipped because nothing changed (echo suppression, overlap duplicates) */
  unchanged: number;
}

export interface HubspotSyncDeps {
  readonly pool: Pool;
  readonly hubspot: HubspotApi;
  readonly config: IntegrationConfig;
}

export const emptyCounts = (): SyncCounts => ({ processed: 0, succeeded: 0, failed: 0, retried: 0, unchanged: 0 });

const PROVIDER = 'hubspot';

export async function drainHubspotOutbox(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  target: { objectType: string; mapping: RecordMapping; owner: string },
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
      limit: deps.config.hubspot.batchSize,
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
    const inputs: HubspotUpsertInput[] = [];
    const pending = new Map<string, { row: (typeof rows)[number]; hash: string }>();
    for (const row of rows) {
      const lead = leads.get(row.local_id);
      counts.processed++;
      // a lead deleted locally has nothing to upsert (its deletion is a separate operation)
      if (!lead || lead.deleted_at) {
        sent.push({ id: row.id, changeSeq: row.change_seq });
        counts.unchanged++;
        continue;
      }
      const hash = leadHash(target.mapping, lead);
      const mapped = maps.get(lead.id);
      if (mapped && mapped.last_synced_hash === hash) {
        sent.push({ id: row.id, changeSeq: row.change_seq });
        counts.unchanged++;
        continue;
      }
      inputs.push({ id: lead.email, idProperty: target.mapping.idProperty, properties: remotePropertiesOf(target.mapping, lead, !mapped) });
      pending.set(lead.email, { row, hash });
    }

    const writes: ObjectMapWrite[] = [];
    if (inputs.length) {
      let result;
      try {
        result = await deps.hubspot.batchUpsert(account, target.objectType, inputs, signal);
      } catch (err) {
        // nothing was written (429, 5xx, timeout): the rows go back as they were
        await releaseOutboxClaims(
          deps.pool,
          workspaceId,
          target.owner,
          rows.map((r) => r.id),
        );
        throw err;
      }
      for (const r of result.results) {
        const email = String(r.properties[target.mapping.idProperty] ?? '').toLowerCase();
        const p = pending.get(email);
        if (!p) continue;
        pending.delete(email);
        writes.push({ localId: p.row.local_id, remoteId: r.id, hash: p.hash, remoteVersion: r.updatedAt });
        sent.push({ id: p.row.id, changeSeq: p.row.change_seq });
        counts.succeeded++;
      }
      for (const e of result.errors) {
        for (const id of e.ids) {
          const p = pending.get(id.toLowerCase());
          if (!p) continue;
          pending.delete(id.toLowerCase());
          failed.push({ id: p.row.id, error: `${e.category}: ${e.message}`.slice(0, 300), retryInMs: deps.config.outboxRetryMs * 2 ** p.row.attempts });
          errors.push({ id: p.row.local_id, error: e.category });
          counts.failed++;
        }
      }
      // a row HubSpot answered neither way (should not happen): tried again later
      for (const p of pending.values()) {
        failed.push({ id: p.row.id, error: 'no result for this row in the batch answer', retryInMs: deps.config.outboxRetryMs });
        counts.failed++;
      }
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

export async function pullHubspot(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  target: { objectType: string; mapping: RecordMapping; owner: string; full: boolean; since?: Date },
  signal?: AbortSignal,
): Promise<SyncCounts & { leaseHeld?: true }> {
  const counts = emptyCounts();
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const state = await acquireSyncLease(deps.pool, workspaceId, { ...scope, direction: 'inbound', cursorType: 'timestamp' }, target.owner, deps.config.leaseMs);
  if (!state) return { ...counts, leaseHeld: true };
  const startedAt = new Date();
  const cursorBefore = state.cursor_value;
  let cursor = cursorBefore;
  try {
    let windowStart =
      target.since ?? (target.full || !state.cursor_value ? new Date(0) : new Date(new Date(state.cursor_value).getTime() - deps.config.overlapMs));
    let after: string | undefined;
    let inWindow = 0;
    const properties = remotePropertyNames(target.mapping);
    const columns = inboundColumnsOf(target.mapping);
    for (;;) {
      signal?.throwIfAborted();
      const page = await deps.hubspot.search(
        account,
        target.objectType,
        { since: windowStart, after, limit: deps.config.hubspot.searchPageSize, properties, modifiedProperty: target.mapping.modifiedProperty },
        signal,
      );
      if (page.results.length === 0) break;
      const modified = (r: { properties: Record<string, string | null>; updatedAt: string }) =>
        new Date(r.properties[target.mapping.modifiedProperty] ?? r.updatedAt);
      const last = modified(page.results[page.results.length - 1]!);
      cursor = new Date(Math.max(last.getTime(), cursor ? new Date(cursor).getTime() : 0)).toISOString();
      const pageCursor = cursor;
      await withTransaction(deps.pool, async (tx) => {
        const known = new Map(
          (
            await objectMapByRemote(
              tx,
              workspaceId,
              scope,
              page.results.map((r) => r.id),
            )
          ).map((m) => [m.remote_id, m]),
        );
        // one change per address: two records with one email map to one lead (the later wins)
        const byEmail = new Map<string, { r: (typeof page.results)[number]; hash: string }>();
        for (const r of page.results) {
          counts.processed++;
          const hash = syncHash(target.mapping, r.properties);
          if (known.get(r.id)?.last_synced_hash === hash || !r.properties.email) {
            counts.unchanged++;
            continue;
          }
          byEmail.set(r.properties.email.trim().toLowerCase(), { r, hash });
        }
        const changed = [...byEmail.values()];
        const ids = await applyInboundLeads(
          tx,
          workspaceId,
          columns,
          changed.map(({ r }) => ({ email: r.properties.email!, fields: inboundFieldsOf(target.mapping, r.properties) })),
        );
        await recordObjectMaps(
          tx,
          workspaceId,
          scope,
          'pull',
          changed.map(({ r, hash }) => ({ localId: ids.get(r.properties.email!.trim().toLowerCase())!, remoteId: r.id, hash, remoteVersion: r.updatedAt })),
        );
        counts.succeeded += changed.length;
        await advanceSyncCursor(tx, workspaceId, state.id, target.owner, {
          value: pageCursor,
          highWatermark: new Date(pageCursor),
          fullSync: target.full,
          leaseMs: deps.config.leaseMs,
        });
      });
      inWindow += page.results.length;
      if (!page.after) break;
      if (inWindow + deps.config.hubspot.searchPageSize > deps.config.hubspot.searchCap) {
        // HubSpot answers at most 10,000 results per query: start a new one at the last time seen
        if (last.getTime() <= windowStart.getTime())
          throw new Error(`more than ${deps.config.hubspot.searchCap} ${target.objectType} share one modification time; cannot re-window`);
        windowStart = last;
        after = undefined;
        inWindow = 0;
      } else {
        after = page.after;
      }
    }
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
  return counts;
}
