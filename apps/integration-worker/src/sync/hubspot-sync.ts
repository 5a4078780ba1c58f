import { advanceSyncCursor, type Pool, withTransaction } from '@coldcopy/db';
import type { IntegrationConfig } from '../config.js';
import { type RecordMapping, remotePropertiesOf, remotePropertyNames } from '../domain/field-mapping.js';
import type { HubspotAccount, HubspotApi, HubspotUpsertInput } from '../providers/hubspot-client.js';
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
export interface HubspotSyncDeps {
  readonly pool: Pool;
  readonly hubspot: HubspotApi;
  readonly config: IntegrationConfig;
}

const PROVIDER = 'hubspot';

export function drainHubspotOutbox(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  target: { objectType: string; mapping: RecordMapping; owner: string },
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const drain = { scope, operation: 'upsert' as const, owner: target.owner, batchSize: deps.config.hubspot.batchSize };
  return drainOutbox(
    deps,
    workspaceId,
    drain,
    async (rows, counts, errors) => {
      const outcome = emptyOutcome();
      const candidates = await upsertCandidates(deps, workspaceId, scope, target.mapping, rows, counts, outcome);
      if (candidates.length === 0) return outcome;
      const inputs: HubspotUpsertInput[] = [];
      const pending = new Map<string, (typeof candidates)[number]>();
      for (const c of candidates) {
        inputs.push({ id: c.lead.email, idProperty: target.mapping.idProperty, properties: remotePropertiesOf(target.mapping, c.lead, c.created) });
        pending.set(c.lead.email, c);
      }
      const result = await deps.hubspot.batchUpsert(account, target.objectType, inputs, signal);
      for (const r of result.results) {
        const email = String(r.properties[target.mapping.idProperty] ?? '').toLowerCase();
        const p = pending.get(email);
        if (!p) continue;
        pending.delete(email);
        outcome.writes.push({ localId: p.row.local_id, remoteId: r.id, hash: p.hash, remoteVersion: r.updatedAt });
        outcome.sent.push({ id: p.row.id, changeSeq: p.row.change_seq });
        counts.succeeded++;
      }
      for (const e of result.errors) {
        for (const id of e.ids) {
          const p = pending.get(id.toLowerCase());
          if (!p) continue;
          pending.delete(id.toLowerCase());
          outcome.failed.push({ id: p.row.id, error: `${e.category}: ${e.message}`.slice(0, 300), retryInMs: retryInMs(deps, p.row) });
          errors.push({ id: p.row.local_id, error: e.category });
          counts.failed++;
        }
      }
      // a row HubSpot answered neither way (should not happen): tried again later
      for (const p of pending.values()) {
        outcome.failed.push({ id: p.row.id, error: 'no result for this row in the batch answer', retryInMs: deps.config.outboxRetryMs });
        counts.failed++;
      }
      return outcome;
    },
    signal,
  );
}

/**
 * Deletions from ColdCopy (providers.md §11.7): `delete` (a lead soft-deleted here) archives the
 * contact by batch (100 per call; HubSpot keeps it restorable for 90 days), `privacy_delete` (a
 * GDPR erasure) deletes it for good through `gdpr-delete`, one call per contact (a 404 means it is
 * already gone). Either way the identity map is closed in the transaction that settles the row.
 */
export function drainHubspotDeletes(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  target: { objectType: string; owner: string; operation: 'delete' | 'privacy_delete' },
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const scope = { provider: PROVIDER, objectType: target.objectType };
  const privacy = target.operation === 'privacy_delete';
  const drain = { scope, operation: target.operation, owner: target.owner, batchSize: privacy ? 10 : deps.config.hubspot.batchSize };
  return drainOutbox(
    deps,
    workspaceId,
    drain,
    async (rows, counts) => {
      const outcome = emptyOutcome();
      const candidates = await deleteCandidates(deps, workspaceId, scope, rows, counts, outcome);
      if (candidates.length === 0) return outcome;
      if (!privacy) {
        await deps.hubspot.batchArchive(
          account,
          target.objectType,
          candidates.map((c) => c.remoteId),
          signal,
        );
        for (const c of candidates) deleted(c, counts, outcome);
        return outcome;
      }
      // one call per contact; after a failure the batch is retried whole, and a contact already deleted answers 404 (done)
      for (const c of candidates) {
        await deps.hubspot.gdprDelete(account, target.objectType, c.remoteId, signal);
        deleted(c, counts, outcome);
      }
      return outcome;
    },
    signal,
  );
}

/**
 * Contacts archived in HubSpot (a user deleted them; restorable there for 90 days) soft-delete
 * their mapped leads and close the maps (providers.md §11.7), page by page (100, each page in its
 * own transaction). HubSpot's list has no filter by archive time, so a pull reads the whole
 * archive (one call per 100 archived contacts); applying a page again changes nothing. Webhook
 * pulls (up to one a minute) skip it: the scheduled ones (every 15 minutes) read it.
 */
export async function pullHubspotArchived(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  objectType: string,
  signal?: AbortSignal,
): Promise<number> {
  const scope = { provider: PROVIDER, objectType };
  let unmapped = 0;
  let after: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await deps.hubspot.listArchived(account, objectType, { limit: 100, ...(after ? { after } : {}) }, signal);
    const ids = page.results.map((r) => r.id);
    if (ids.length) unmapped += await withTransaction(deps.pool, (tx) => applyRemoteDeletions(tx, workspaceId, scope, ids));
    after = page.after;
  } while (after);
  return unmapped;
}

/**
 * Contacts HubSpot erased (`contact.privacyDeletion` webhook events, ids only): their leads are
 * erased here (suppressed, anonymised, audited; the other CRMs get a privacy deletion) and the
 * maps closed, in one transaction. No HubSpot call: the contacts are gone there. Returns how
 * many were mapped.
 */
export function applyHubspotPrivacyDeletions(deps: Pick<HubspotSyncDeps, 'pool'>, workspaceId: string, remoteIds: readonly string[]): Promise<number> {
  return withTransaction(deps.pool, (tx) =>
    applyRemoteDeletions(tx, workspaceId, { provider: PROVIDER, objectType: 'contacts' }, remoteIds, {
      actorType: 'system',
      source: 'hubspot:contact.privacyDeletion',
      origin: 'hubspot',
    }),
  );
}

export function pullHubspot(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  target: { objectType: string; mapping: RecordMapping; owner: string; full: boolean; since?: Date; readArchive?: boolean },
  signal?: AbortSignal,
): Promise<SyncCounts & { leaseHeld?: true; archived?: number }> {
  const scope = { provider: PROVIDER, objectType: target.objectType };
  return runPull<{ archived: number }>(deps, workspaceId, { scope, owner: target.owner, full: target.full }, async (state, counts) => {
    let cursor = state.cursor_value;
    let windowStart =
      target.since ?? (target.full || !state.cursor_value ? new Date(0) : new Date(new Date(state.cursor_value).getTime() - deps.config.overlapMs));
    let after: string | undefined;
    let inWindow = 0;
    const properties = remotePropertyNames(target.mapping);
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
        const records = page.results.map((r) => ({ remoteId: r.id, email: r.properties.email, properties: r.properties, remoteVersion: r.updatedAt }));
        await applyPulledPage(tx, workspaceId, scope, target.mapping, records, counts);
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
    const archived =
      target.objectType === 'contacts' && target.readArchive !== false ? await pullHubspotArchived(deps, workspaceId, account, target.objectType, signal) : 0;
    return { cursor, extra: { archived } };
  });
}
