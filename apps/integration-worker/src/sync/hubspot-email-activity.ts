import { type EmailActivity, emailActivitiesForSync, emailPropertyReady, objectMapByLocal, pendingOutboxLocalIds, setEmailPropertyReady } from '@coldcopy/db';
import {
  COLDCOPY_EMAIL_ID,
  type HubspotAccount,
  HubspotAuthError,
  type HubspotEmailInput,
  HubspotRateLimitError,
  HubspotRequestError,
} from '../providers/hubspot-client.js';
import { type BatchOutcome, drainOutbox, emptyOutcome, retryInMs, type SyncCounts } from './engine.js';
import type { HubspotSyncDeps } from './hubspot-sync.js';

/**
 * Email activity logging (providers.md §7, issue 16): every email ColdCopy sent to a lead and
 * every reply it received from one becomes an email engagement in HubSpot (CRM v3 `emails`:
 * `hs_timestamp`, `hs_email_direction`, `hs_email_status`, subject, text, headers), associated
 * inline with the lead's contact (HubSpot-defined type 198, email → contact), 100 per
 * `emails/batch/create`.
 *
 * Feed: the crm_email_activity triggers add an outbox row (object_type `emails`) in the very
 * transaction that marks a ledger row `sent` or stores an inbound reply, for each active HubSpot
 * connection of the workspace; nothing is read back from the ledger by a cursor, so nothing
 * committed is skipped and nothing uncommitted is logged.
 *
 * Once: a logged email gets an identity-map row (scope `emails`, local id → HubSpot id) in the
 * transaction that settles its outbox row, so a re-queued or re-run row is settled without a call.
 * `batch/create` is not idempotent, so the window between HubSpot's answer and that commit is
 * covered by HubSpot itself: each email carries `coldcopy_email_id`, a call that may have
 * written without an answer (timeout, 5xx, a worker killed) keeps its claims, and a row whose
 * claim was never settled comes back `in_doubt`; before creating, the drain searches HubSpot for
 * the in-doubt ids and records those it finds instead of creating them again. A 429, a 401 or a
 * 4xx refusal of the whole batch wrote nothing: those claims are given back clean.
 *
 * The property: a portal has no `coldcopy_email_id` until we create it, and HubSpot refuses (400)
 * creates and searches naming it until then. Before the connection's first call that names it the
 * drain checks it through the properties API and creates it if missing; the connection row records
 * that (one check per connection, not per run). A 400 about the property later (deleted in the
 * portal) clears the mark, creates it again and repeats the call once.
 *
 * Rows whose lead is not mapped to a contact: settled without a call when the lead has no
 * pending contact push (it is not in HubSpot), else retried later (the contact is on its way).
 */
const SCOPE = { provider: 'hubspot', objectType: 'emails' } as const;
const CONTACTS = { provider: 'hubspot', objectType: 'contacts' } as const;
const TEXT_MAX = 65_000;

/** HubSpot refused the call because the portal lacks `coldcopy_email_id` (it names the property). */
const missingProperty = (err: unknown) => err instanceof HubspotRequestError && err.status === 400 && err.message.includes(COLDCOPY_EMAIL_ID);

/** Errors after which HubSpot cannot have created anything of the batch. */
const wroteNothing = (err: unknown) => err instanceof HubspotRateLimitError || err instanceof HubspotAuthError || err instanceof HubspotRequestError;

export function drainHubspotEmailActivity(
  deps: HubspotSyncDeps,
  workspaceId: string,
  account: HubspotAccount,
  owner: string,
  signal?: AbortSignal,
): Promise<SyncCounts> {
  const target = {
    scope: SCOPE,
    operation: 'upsert' as const,
    owner,
    batchSize: deps.config.hubspot.batchSize,
    mayHaveWritten: (err: unknown) => !wroteNothing(err),
  };
  // the connection's mark, read once per drain and only when a batch has something to send
  let ready: boolean | undefined;
  const ensureProperty = async () => {
    if ((ready ??= await emailPropertyReady(deps.pool, workspaceId, 'hubspot'))) return;
    await deps.hubspot.ensureEmailProperty(account, signal);
    await setEmailPropertyReady(deps.pool, workspaceId, 'hubspot', true);
    ready = true;
  };
  const namingProperty = async <T>(call: () => Promise<T>): Promise<T> => {
    await ensureProperty();
    try {
      return await call();
    } catch (err) {
      if (!missingProperty(err)) throw err;
      ready = false;
      await setEmailPropertyReady(deps.pool, workspaceId, 'hubspot', false);
      await ensureProperty();
      return call();
    }
  };
  return drainOutbox(
    deps,
    workspaceId,
    target,
    async (rows, counts, errors) => {
      const outcome = emptyOutcome();
      const ids = rows.map((r) => r.local_id);
      const ofKind = (kind: string) => rows.filter((r) => (r.payload.kind ?? 'sent') === kind).map((r) => r.local_id);
      const activities = new Map(
        (await emailActivitiesForSync(deps.pool, workspaceId, { sent: ofKind('sent'), reply: ofKind('reply') })).map((a) => [a.id, a]),
      );
      const logged = new Set((await objectMapByLocal(deps.pool, workspaceId, SCOPE, ids)).map((m) => m.local_id));
      const leadIds = [...new Set([...activities.values()].map((a) => a.lead_id))];
      const contacts = new Map(
        (await objectMapByLocal(deps.pool, workspaceId, CONTACTS, leadIds)).filter((m) => !m.deleted_at).map((m) => [m.local_id, m.remote_id]),
      );
      const unmapped = leadIds.filter((id) => !contacts.has(id));
      const onTheirWay = await pendingOutboxLocalIds(deps.pool, workspaceId, { ...CONTACTS, operation: 'upsert' }, unmapped);

      const toLog: Array<{ row: (typeof rows)[number]; input: HubspotEmailInput }> = [];
      for (const row of rows) {
        counts.processed++;
        const activity = activities.get(row.local_id);
        const contactId = activity && contacts.get(activity.lead_id);
        if (activity && !contactId && onTheirWay.has(activity.lead_id)) {
          outcome.failed.push({ id: row.id, error: 'the lead is not in HubSpot yet (its contact push is pending)', retryInMs: retryInMs(deps, row) });
          counts.failed++;
          continue;
        }
        // already logged, gone (send row or lead deleted), or a lead that is not in HubSpot: nothing to call
        if (!activity || !contactId || logged.has(row.local_id)) {
          outcome.sent.push({ id: row.id, changeSeq: row.change_seq });
          counts.unchanged++;
          continue;
        }
        toLog.push({ row, input: { coldcopyId: row.local_id, contactId, properties: engagementProperties(activity) } });
      }
      const done = (t: (typeof toLog)[number], remoteId: string) => {
        outcome.writes.push({ localId: t.row.local_id, remoteId, hash: 'logged', remoteVersion: null });
        outcome.sent.push({ id: t.row.id, changeSeq: t.row.change_seq });
        counts.succeeded++;
      };

      // rows a previous call may have logged already: ask HubSpot before creating them again
      const doubtful = toLog.filter((t) => t.row.in_doubt);
      const found = doubtful.length
        ? await namingProperty(() =>
            deps.hubspot.findEmails(
              account,
              doubtful.map((t) => t.row.local_id),
              signal,
            ),
          )
        : new Map<string, string>();
      const create = toLog.filter((t) => {
        const remoteId = found.get(t.row.local_id);
        if (remoteId) done(t, remoteId);
        return !remoteId;
      });
      if (create.length === 0) return outcome;

      const result = await namingProperty(() =>
        deps.hubspot.createEmails(
          account,
          create.map((t) => t.input),
          signal,
        ),
      );
      const refused = new Map(result.errors.map((e) => [e.coldcopyId, e]));
      for (const t of create) {
        const remoteId = result.created.get(t.row.local_id);
        if (remoteId) {
          done(t, remoteId);
          continue;
        }
        const e = refused.get(t.row.local_id);
        outcome.failed.push({
          id: t.row.id,
          error: e ? `${e.category}: ${e.message}`.slice(0, 300) : 'no result for this email in the batch answer',
          retryInMs: retryInMs(deps, t.row),
        });
        errors.push({ id: t.row.local_id, error: e?.category ?? 'NO_RESULT' });
        counts.failed++;
      }
      return outcome satisfies BatchOutcome;
    },
    signal,
  );
}

/** The engagement's properties (HubSpot's `hs_email_*`); the body as text, bounded. */
export function engagementProperties(a: EmailActivity): Record<string, string> {
  const sent = a.kind === 'sent';
  const headers = {
    from: { email: a.from_email ?? '' },
    to: [{ email: a.to_email ?? '' }],
    ...(a.message_id ? { messageId: a.message_id } : {}),
  };
  return {
    hs_timestamp: new Date(a.at).toISOString(),
    hs_email_direction: sent ? 'EMAIL' : 'INCOMING_EMAIL',
    hs_email_status: 'SENT',
    hs_email_subject: a.subject ?? '',
    hs_email_text: (a.text ?? '').slice(0, TEXT_MAX),
    hs_email_headers: JSON.stringify(headers),
  };
}
