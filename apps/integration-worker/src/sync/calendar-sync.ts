import {
  CalendarInputError,
  CalendarProviderError,
  CalendarRateLimitError,
  CalendarSyncExpiredError,
  type CalendarAccess,
  type ChangePage,
  meetingEventId,
  withRateLimitWaits,
} from '@coldcopy/calendar';
import {
  acquireSyncLease,
  calendarAccountsDue,
  advanceSyncCursor,
  applyCalendarChanges,
  type CalendarAccountRow,
  type CalendarEventWrite,
  finishCalendarSyncLog,
  meetingsToPush,
  type Pool,
  recordCalendarError,
  releaseSyncLease,
  setMeetingEvent,
  startCalendarSyncLog,
  storeCalendarCursor,
  sweepCalendarEvents,
  withTransaction,
} from '@coldcopy/db';
import { CALENDAR_SYNC_MINUTES, calendarSyncSlot, PermanentJobError, RetryAfterError, slotStartOf, syncCalendar } from '@coldcopy/queue-core';
import type { JobContext } from '@coldcopy/queue-core/runtime';
import type { IntegrationConfig } from '../config.js';

/**
 * One calendar account's sync (providers.md §9, §11):
 * 1. push: meetings booked on this calendar without a provider event get one, under a deterministic
 *    id (Google: `ccm<meeting uuid hex>`, a retry answers 409 and is taken as done; Graph: the meeting
 *    id as `transactionId`, a retry returns the first event), and the id is kept on the meeting;
 * 2. pull: one round from the stored cursor (Google `syncToken`, Graph `deltaLink`), or a full
 *    round (first sync, `syncType: full`). Each page is committed with the sync-state lease checked
 *    in the same transaction; the new cursor is stored only with the last page, so a crash re-reads
 *    the round (writes are upserts by provider event id). A full round ends by deleting the events
 *    it did not see. 410 Gone wipes the cursor and runs a full round: the same final state as if the
 *    token had never expired.
 */
export interface CalendarSyncDeps {
  readonly pool: Pool;
  readonly calendar: CalendarAccess;
  readonly config: IntegrationConfig;
}

export interface CalendarSyncResult {
  processed: number;
  upserted: number;
  deleted: number;
  pushed: number;
  /** meetings the provider refused for good (kept in the sync log's errors, offered again next run) */
  pushRefused: number;
  pages: number;
  fullSync: boolean;
  /** the stored cursor was refused (410) and the account was resynced in full */
  resynced: boolean;
  meetingsMoved: number;
  meetingsCancelled: number;
  leaseHeld?: true;
}

export async function syncCalendarAccount(
  deps: CalendarSyncDeps,
  p: { workspaceId: string; calendarAccountId: string; syncType: 'full' | 'incremental' | 'webhook' },
  owner: string,
  signal: AbortSignal,
): Promise<CalendarSyncResult> {
  const { pool, calendar } = deps;
  const { row: account, accessToken } = await calendar.tokens.accessToken(p.workspaceId, p.calendarAccountId, signal);
  const result: CalendarSyncResult = {
    processed: 0,
    upserted: 0,
    deleted: 0,
    pushed: 0,
    pushRefused: 0,
    pages: 0,
    fullSync: false,
    resynced: false,
    meetingsMoved: 0,
    meetingsCancelled: 0,
  };
  const state = await acquireSyncLease(
    pool,
    p.workspaceId,
    {
      provider: account.provider,
      objectType: `calendar:${account.id}`,
      direction: 'inbound',
      cursorType: account.provider === 'google' ? 'sync_token' : 'delta_link',
    },
    owner,
    deps.config.leaseMs,
  );
  if (!state) return { ...result, leaseHeld: true };
  const logId = await startCalendarSyncLog(pool, p.workspaceId, account.id, p.syncType);
  try {
    const push = await pushMeetings(deps, account, accessToken, signal);
    result.pushed = push.pushed;
    result.pushRefused = push.refused.length;
    const cursor = account.provider === 'google' ? account.sync_token : account.delta_link;
    const full = p.syncType === 'full' || !cursor;
    try {
      await pullRound(deps, account, accessToken, full ? undefined : cursor!, { stateId: state.id, owner }, result, signal);
    } catch (err) {
      if (!(err instanceof CalendarSyncExpiredError)) throw err;
      // 410 Gone: the cursor is worthless; wipe it, then read everything again
      await storeCalendarCursor(pool, p.workspaceId, account.id, account.provider === 'google' ? { syncToken: null } : { deltaLink: null }, false);
      result.resynced = true;
      await pullRound(deps, account, accessToken, undefined, { stateId: state.id, owner }, result, signal);
    }
    await releaseSyncLease(pool, p.workspaceId, state.id, owner, { ok: true });
    await finishCalendarSyncLog(pool, p.workspaceId, logId, { status: 'completed', eventsSynced: result.processed, errors: push.refused });
    return result;
  } catch (err) {
    const message = describe(err);
    await releaseSyncLease(pool, p.workspaceId, state.id, owner, { ok: false, error: message }).catch(() => undefined);
    await finishCalendarSyncLog(pool, p.workspaceId, logId, { status: 'failed', eventsSynced: result.processed, errors: [{ message }] }).catch(() => undefined);
    await recordCalendarError(pool, p.workspaceId, account.id, message).catch(() => undefined);
    throw asJobError(err);
  }
}

/**
 * Meetings without a provider event get one. A meeting the provider refuses for good (a 4xx such
 * as an unknown time zone) is reported in the result and the sync log and skipped, so it cannot
 * hold up the account's sync; it stays without an event id and is offered again next run.
 */
async function pushMeetings(
  deps: CalendarSyncDeps,
  account: CalendarAccountRow,
  accessToken: string,
  signal: AbortSignal,
): Promise<{ pushed: number; refused: Array<{ meetingId: string; reason: string }> }> {
  const { calendar, pool } = deps;
  const meetings = await meetingsToPush(pool, account.workspace_id, account.id, calendar.settings.pushBatch);
  let pushed = 0;
  const refused: Array<{ meetingId: string; reason: string }> = [];
  for (const m of meetings) {
    const event = {
      id: account.provider === 'google' ? meetingEventId(m.id) : m.id,
      summary: m.title,
      ...(m.description ? { description: m.description } : {}),
      start: m.starts_at,
      end: m.ends_at,
      timeZone: m.timezone,
    };
    let created: { id: string };
    try {
      created = await withRateLimitWaits(
        () =>
          account.provider === 'google'
            ? calendar.google.insertEvent(accessToken, account.primary_calendar_id ?? 'primary', event, signal)
            : calendar.graph.createEvent(accessToken, event, signal),
        { maxWaitMs: calendar.settings.rateWaitMaxMs, signal },
      );
    } catch (err) {
      const permanent = err instanceof CalendarInputError || (err instanceof CalendarProviderError && !err.retryable);
      if (!permanent) throw err;
      refused.push({ meetingId: m.id, reason: (err as Error).message.slice(0, 200) });
      continue;
    }
    if (await setMeetingEvent(pool, account.workspace_id, m.id, created.id)) pushed++;
  }
  return { pushed, refused };
}

async function pullRound(
  deps: CalendarSyncDeps,
  account: CalendarAccountRow,
  accessToken: string,
  cursor: string | undefined,
  lease: { stateId: string; owner: string },
  result: CalendarSyncResult,
  signal: AbortSignal,
): Promise<void> {
  const { calendar, pool } = deps;
  const full = cursor === undefined;
  result.fullSync ||= full;
  const roundStartedAt = new Date();
  const calendarId = account.primary_calendar_id ?? 'primary';
  const now = Date.now();
  const fetchPage = (next: string | undefined): Promise<ChangePage> =>
    withRateLimitWaits(
      () =>
        account.provider === 'google'
          ? calendar.google.listChanges(accessToken, {
              calendarId,
              ...(next ? { pageToken: next } : cursor ? { syncToken: cursor } : {}),
              signal,
            })
          : calendar.graph.delta(
              accessToken,
              next || cursor
                ? { link: (next ?? cursor)!, signal }
                : { from: new Date(now - calendar.settings.pastDays * 86_400_000), to: new Date(now + calendar.settings.futureDays * 86_400_000), signal },
            ),
      { maxWaitMs: calendar.settings.rateWaitMaxMs, signal },
    );

  let next: string | undefined;
  for (;;) {
    signal.throwIfAborted();
    const page = await fetchPage(next);
    result.pages++;
    const upserts: CalendarEventWrite[] = [];
    const deletes: string[] = [];
    for (const c of page.changes) {
      if (c.kind === 'delete') deletes.push(c.id);
      else
        upserts.push({
          providerEventId: c.event.id,
          icalUid: c.event.iCalUid,
          status: c.event.status,
          busy: c.event.busy,
          allDay: c.event.allDay,
          startsAt: c.event.start,
          endsAt: c.event.end,
          remoteUpdatedAt: c.event.updatedAt,
        });
    }
    const last = !page.next;
    if (last && !page.cursor) throw new CalendarProviderError(account.provider, 200, 'the last page of a round carried no cursor', true);
    await withTransaction(pool, async (tx) => {
      // the lease is checked (and extended) in the page's own transaction: a run that lost it writes nothing
      await advanceSyncCursor(tx, account.workspace_id, lease.stateId, lease.owner, {
        value: last ? page.cursor! : (cursor ?? null),
        fullSync: last && full,
        leaseMs: deps.config.leaseMs,
      });
      const applied = await applyCalendarChanges(tx, account.workspace_id, account.id, { upserts, deletes, roundStartedAt });
      result.upserted += applied.upserted;
      result.deleted += applied.deleted;
      result.meetingsMoved += applied.meetingsMoved;
      result.meetingsCancelled += applied.meetingsCancelled;
      if (last) {
        if (full) result.deleted += await sweepCalendarEvents(tx, account.workspace_id, account.id, roundStartedAt);
        await storeCalendarCursor(
          tx,
          account.workspace_id,
          account.id,
          account.provider === 'google' ? { syncToken: page.cursor! } : { deltaLink: page.cursor! },
          true,
        );
      }
    });
    result.processed += page.changes.length;
    if (last) return;
    next = page.next;
  }
}

const FAN_OUT_PAGE = 500;

/**
 * The schedule's fan-out: one incremental sync-calendar per due account (calendarAccountsDue: its
 * `sync_frequency_minutes` passed by the end of this slot), ids `sync-calendar.<account>.incremental.<slot>`,
 * so a repeated fan-out in the same slot adds nothing. The slot of a scheduled run is its cron time.
 */
export async function fanOutCalendarSyncs(
  deps: CalendarSyncDeps,
  slotGiven: string | undefined,
  ctx: Pick<JobContext<unknown>, 'enqueueBulk' | 'scheduledAt' | 'signal'>,
): Promise<{ form: 'fan-out'; slot: string; enqueued: number; pages: number }> {
  const slot = slotGiven ?? calendarSyncSlot(ctx.scheduledAt);
  const dueBy = new Date(slotStartOf(slot).getTime() + CALENDAR_SYNC_MINUTES * 60_000);
  let after: string | undefined;
  let enqueued = 0;
  let pages = 0;
  for (;;) {
    ctx.signal.throwIfAborted();
    const due = await calendarAccountsDue(deps.pool, { dueBy, ...(after ? { after } : {}), limit: FAN_OUT_PAGE });
    pages++;
    if (due.length) {
      await ctx.enqueueBulk(
        syncCalendar,
        due.map((a) => ({
          data: {
            workspaceId: a.workspace_id,
            calendarAccountId: a.id,
            syncType: 'incremental' as const,
            slot,
            requestedBy: 'system',
            traceId: `calendar-sync-${slot}`,
          },
        })),
      );
      enqueued += due.length;
    }
    if (due.length < FAN_OUT_PAGE) return { form: 'fan-out', slot, enqueued, pages };
    after = due.at(-1)!.id;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : 'unknown error';
}

/** Provider answers as the runtime's job errors: rate limits wait, bad requests do not retry. */
function asJobError(err: unknown): unknown {
  if (err instanceof CalendarRateLimitError) return new RetryAfterError(err.retryAfterMs, err.message, { cause: err });
  if (err instanceof CalendarInputError) return new PermanentJobError(err.message, { cause: err });
  if (err instanceof CalendarProviderError && !err.retryable) return new PermanentJobError(err.message, { cause: err });
  return err;
}
