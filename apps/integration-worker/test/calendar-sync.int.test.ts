import { getCalendarAccount, listCalendarEvents } from '@coldcopy/db';
import { calendarSyncSlot, schedulesOn, syncCalendar } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { useCalendarHarness } from './calendar-harness.js';

const c = useCalendarHarness({ pageSize: 5 });
const { h } = c;
let tick = 0;
const slot = () => `20261206T${String(10 + Math.floor(tick / 60)).padStart(2, '0')}${String(tick++ % 60).padStart(2, '0')}Z`;
const at = (day: number, hour: number, minutes = 0) => new Date(Date.UTC(2026, 11, day, hour, minutes)).toISOString();

/** what the sync stored for the account: id → [start, end, busy] */
async function stored(workspaceId: string, accountId: string) {
  const rows = await listCalendarEvents(h.pool, workspaceId, accountId);
  return Object.fromEntries(rows.map((r) => [r.providerEventId, [r.startsAt.toISOString(), r.endsAt.toISOString(), r.busy]]));
}

async function meeting(workspaceId: string, accountId: string, title: string, start: string, end: string): Promise<string> {
  const { rows } = await h.pool.query<{ id: string }>(
    `INSERT INTO scheduled_meetings (workspace_id, calendar_account_id, title, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [workspaceId, accountId, title, start, end],
  );
  return rows[0]!.id;
}

describe('sync-calendar: Google Calendar through @googleapis/calendar', () => {
  it('full sync by pages, incremental by syncToken, deterministic ids for our meetings, and 410 Gone -> full resync with the same final state', async () => {
    const { workspaceId, accountId, email } = await c.seedAccount({ provider: 'google' });
    // "in Google": 12 events (3 pages of 5), one free (transparent), one all-day
    for (let i = 0; i < 12; i++) {
      c.google.put(email, {
        id: `evt${String(i).padStart(3, '0')}`,
        summary: `Busy ${i}`,
        start: at(7 + (i % 5), 9 + i, 0),
        end: at(7 + (i % 5), 9 + i, 45),
        ...(i === 3 ? { transparency: 'transparent' as const } : {}),
      });
    }
    c.google.put(email, { id: 'allday001', start: '2026-12-24', end: '2026-12-25', allDay: true });
    const googleState = () =>
      Object.fromEntries(
        c.google
          .events(email)
          .map((e) => [
            e.id,
            [
              new Date(e.start.dateTime ?? `${e.start.date}T00:00:00Z`).toISOString(),
              new Date(e.end.dateTime ?? `${e.end.date}T00:00:00Z`).toISOString(),
              e.transparency !== 'transparent',
            ],
          ]),
      );
    const w = await h.worker(c.deps());
    const run = (syncType: 'full' | 'incremental' | 'webhook' = 'incremental') =>
      h.run(w, syncCalendar, { workspaceId, requestedBy: 'test', calendarAccountId: accountId, syncType, slot: slot() });

    // 1. first run: no cursor, so a full round of 3 pages; the sync token comes with the last one
    const first = await run();
    expect(first.state).toBe('completed');
    expect(first.value).toMatchObject({ fullSync: true, resynced: false, pages: 3, upserted: 13 });
    expect(await stored(workspaceId, accountId)).toEqual(googleState());
    const afterFull = (await getCalendarAccount(h.pool, workspaceId, accountId))!;
    expect(afterFull.sync_token).toMatch(/^st/);
    expect(c.google.log('events.list').map((r) => r.status)).toEqual([200, 200, 200]);

    // 2. changes in Google; an incremental round reads only them (one page), deleted ones as cancelled
    c.google.put(email, { id: 'evt001', start: at(8, 15), end: at(8, 16) });
    c.google.remove(email, 'evt002');
    c.google.put(email, { id: 'evtnew01', start: at(9, 11), end: at(9, 12) });
    const second = await run();
    expect(second.value).toMatchObject({ fullSync: false, pages: 1, processed: 3, upserted: 2, deleted: 1 });
    expect(await stored(workspaceId, accountId)).toEqual(googleState());
    expect((await getCalendarAccount(h.pool, workspaceId, accountId))!.sync_token).not.toBe(afterFull.sync_token);

    // 3. a meeting booked on this calendar is created under its deterministic id; a retry after a
    //    crash between the create and our write (the id lost locally) gets 409 and makes no second event
    const meetingId = await meeting(workspaceId, accountId, 'Intro call', at(10, 14), at(10, 14, 30));
    const eventId = `ccm${meetingId.replace(/-/g, '')}`;
    const third = await run();
    expect(third.value).toMatchObject({ pushed: 1 });
    expect(c.google.events(email).filter((e) => e.id === eventId)).toHaveLength(1);
    await h.pool.query(`UPDATE scheduled_meetings SET calendar_event_id = NULL WHERE id = $1`, [meetingId]);
    const fourth = await run();
    expect(fourth.value).toMatchObject({ pushed: 1 });
    expect(c.google.log('events.insert').map((r) => r.status)).toEqual([200, 409]);
    expect(c.google.events(email).filter((e) => e.id === eventId)).toHaveLength(1);
    const m = await h.pool.query(`SELECT calendar_event_id, status FROM scheduled_meetings WHERE id = $1`, [meetingId]);
    expect(m.rows[0]).toEqual({ calendar_event_id: eventId, status: 'scheduled' });
    expect(await stored(workspaceId, accountId)).toEqual(googleState());

    // a meeting Google refuses for good (an unknown time zone) is reported and skipped: the sync goes on
    const badMeeting = await meeting(workspaceId, accountId, 'Bad zone', at(10, 16), at(10, 16, 30));
    await h.pool.query(`UPDATE scheduled_meetings SET timezone = 'Mars/Olympus_Mons' WHERE id = $1`, [badMeeting]);
    c.google.put(email, { id: 'evtnew03', start: at(13, 9), end: at(13, 10) });
    const refusedRun = await run();
    expect(refusedRun.state).toBe('completed');
    expect(refusedRun.value).toMatchObject({ pushed: 0, pushRefused: 1, upserted: 1 });
    const refusedLog = await h.pool.query(`SELECT errors FROM calendar_sync_logs WHERE calendar_account_id = $1 ORDER BY started_at DESC LIMIT 1`, [accountId]);
    expect(refusedLog.rows[0].errors).toEqual([{ meetingId: badMeeting, reason: expect.stringContaining('400') }]);
    await h.pool.query(`UPDATE scheduled_meetings SET status = 'cancelled' WHERE id = $1`, [badMeeting]);
    expect(await stored(workspaceId, accountId)).toEqual(googleState());

    // 4. more changes, then Google expires every sync token: 410 -> cursor wiped, full round, and the
    //    final state is Google's, including deletions the lost token would have told us about
    c.google.remove(email, 'evt005');
    c.google.remove(email, eventId); // the meeting's event deleted in Google
    c.google.put(email, { id: 'evt006', start: at(11, 8), end: at(11, 10), transparency: 'transparent' });
    c.google.put(email, { id: 'evtnew02', start: at(12, 9), end: at(12, 10) });
    c.google.expireSyncTokens();
    c.google.requests.length = 0;
    const fifth = await run();
    expect(fifth.state).toBe('completed');
    expect(fifth.value).toMatchObject({ fullSync: true, resynced: true, pages: 3 });
    expect(c.google.log('events.list').map((r) => r.status)).toEqual([410, 200, 200, 200]);
    expect(await stored(workspaceId, accountId)).toEqual(googleState());
    expect(Object.keys(await stored(workspaceId, accountId))).toHaveLength(14);
    const cancelled = await h.pool.query(`SELECT status FROM scheduled_meetings WHERE id = $1`, [meetingId]);
    expect(cancelled.rows[0].status).toBe('cancelled');
    const afterResync = (await getCalendarAccount(h.pool, workspaceId, accountId))!;
    expect(afterResync.sync_token).toMatch(/^st/);
    expect(afterResync.last_error).toBeNull();

    // 5. the new token works: an incremental round after the resync sees nothing new
    const sixth = await run();
    expect(sixth.value).toMatchObject({ fullSync: false, resynced: false, processed: 0 });
    const logs = await h.pool.query(`SELECT sync_type, status FROM calendar_sync_logs WHERE calendar_account_id = $1`, [accountId]);
    expect(logs.rows.filter((r) => r.status === 'completed')).toHaveLength(7);
  }, 120_000);

  it('an expired access token is refreshed once through the Google token endpoint, stored sealed before use', async () => {
    const { workspaceId, accountId, email } = await c.seedAccount({ provider: 'google', expired: true });
    c.google.put(email, { id: 'evtrefresh1', start: at(7, 9), end: at(7, 10) });
    const w = await h.worker(c.deps());
    const done = await h.run(w, syncCalendar, { workspaceId, requestedBy: 'test', calendarAccountId: accountId, syncType: 'incremental', slot: slot() });
    expect(done.state).toBe('completed');
    // GOOGLE_TOKEN_URL is the emulator's /token (oauth2.googleapis.com's refresh grant)
    expect(c.google.log('token').map((r) => r.status)).toEqual([200]);
    expect(c.google.log('events.list').map((r) => r.status)).toEqual([200]);
    const row = (await getCalendarAccount(h.pool, workspaceId, accountId))!;
    expect(row.expires_at!.getTime()).toBeGreaterThan(Date.now() + 600_000);
  }, 60_000);
});

describe('sync-calendar: Microsoft Graph calendarView/delta', () => {
  it('pages by @odata.nextLink to a deltaLink, stores it, and the next round from it applies changes, deletions and moves out of the window', async () => {
    const { workspaceId, accountId, email } = await c.seedAccount({ provider: 'microsoft' });
    const soon = (days: number, hour: number, minutes = 0) => {
      const d = new Date();
      d.setUTCDate(d.getUTCDate() + days);
      d.setUTCHours(hour, minutes, 0, 0);
      return d.toISOString();
    };
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(
        c.graph.put(email, {
          id: `AAMk-${String(i).padStart(2, '0')}`,
          subject: `Busy ${i}`,
          start: soon(1 + i, 9),
          end: soon(1 + i, 10),
          ...(i === 4 ? { showAs: 'free' as const } : {}),
        }).id,
      );
    }
    c.graph.put(email, { id: 'AAMk-far', start: soon(400, 9), end: soon(400, 10) }); // outside the 180-day window
    const graphState = (inWindow = (start: number) => start < Date.now() + 180 * 86_400_000) =>
      Object.fromEntries(
        c.graph
          .events(email)
          .filter((e) => inWindow(e.start))
          .map((e) => [e.id, [new Date(e.start).toISOString(), new Date(e.end).toISOString(), e.showAs !== 'free' && e.showAs !== 'workingElsewhere']]),
      );
    const w = await h.worker(c.deps());
    const run = (syncType: 'full' | 'incremental' = 'incremental') =>
      h.run(w, syncCalendar, { workspaceId, requestedBy: 'test', calendarAccountId: accountId, syncType, slot: slot() });

    // 1. the initial round: 12 events in the window, pages of 5 -> 3 pages, the last with the deltaLink
    const first = await run();
    expect(first.state).toBe('completed');
    expect(first.value).toMatchObject({ fullSync: true, pages: 3, upserted: 12 });
    expect(c.graph.log('calendarView.delta').map((r) => r.status)).toEqual([200, 200, 200]);
    const link1 = (await getCalendarAccount(h.pool, workspaceId, accountId))!.delta_link;
    expect(link1).toMatch(new RegExp(`^${c.graph.url}/v1\\.0/me/calendarView/delta\\?\\$deltatoken=`));
    expect(await stored(workspaceId, accountId)).toEqual(graphState());

    // 2. changes in Outlook; the round from the stored deltaLink (with a 429 on the way, waited out
    //    by its Retry-After within the same attempt) applies exactly them and stores the new deltaLink
    c.graph.put(email, { id: ids[0]!, start: soon(2, 14), end: soon(2, 15) });
    c.graph.remove(email, ids[1]!);
    c.graph.put(email, { id: ids[2]!, start: soon(300, 9), end: soon(300, 10) }); // moved out of the window
    c.graph.put(email, { id: 'AAMk-new', start: soon(3, 16), end: soon(3, 17), showAs: 'tentative' });
    c.graph.fault({
      status: 429,
      endpoint: 'calendarView.delta',
      headers: { 'retry-after': '1' },
      body: { error: { code: 'ApplicationThrottled', message: 'throttled' } },
    });
    c.graph.requests.length = 0;
    const second = await run();
    expect(second.state).toBe('completed');
    expect(second.attempts).toBe(first.attempts); // waited out inside the attempt
    expect(second.value).toMatchObject({ fullSync: false, processed: 4, upserted: 2, deleted: 2 });
    expect(c.graph.log('calendarView.delta').map((r) => r.status)).toEqual([429, 200]);
    const link2 = (await getCalendarAccount(h.pool, workspaceId, accountId))!.delta_link;
    expect(link2).toMatch(/\$deltatoken=/);
    expect(link2).not.toBe(link1);
    expect(await stored(workspaceId, accountId)).toEqual(graphState());

    // 3. a meeting put on Outlook: transactionId makes a retried create return the same event
    const meetingId = await meeting(workspaceId, accountId, 'Demo', soon(5, 13), soon(5, 14));
    const third = await run();
    expect(third.value).toMatchObject({ pushed: 1 });
    const eventId = (await h.pool.query(`SELECT calendar_event_id FROM scheduled_meetings WHERE id = $1`, [meetingId])).rows[0].calendar_event_id as string;
    await h.pool.query(`UPDATE scheduled_meetings SET calendar_event_id = NULL WHERE id = $1`, [meetingId]);
    await run();
    expect(
      c.graph
        .events(email)
        .filter((e) => e.transactionId === meetingId)
        .map((e) => e.id),
    ).toEqual([eventId]);
    expect((await h.pool.query(`SELECT calendar_event_id FROM scheduled_meetings WHERE id = $1`, [meetingId])).rows[0].calendar_event_id).toBe(eventId);

    // 4. an expired delta token: 410 -> the link is wiped and a new initial round reaches the same state
    c.graph.remove(email, ids[3]!);
    c.graph.expireDeltaTokens();
    c.graph.requests.length = 0;
    const fifth = await run();
    expect(fifth.value).toMatchObject({ fullSync: true, resynced: true });
    expect(c.graph.log('calendarView.delta')[0]!.status).toBe(410);
    expect(await stored(workspaceId, accountId)).toEqual(graphState());
    expect((await getCalendarAccount(h.pool, workspaceId, accountId))!.delta_link).toMatch(/\$deltatoken=/);
  }, 120_000);

  it('a 429 whose Retry-After is longer than the in-handler wait fails the attempt with RetryAfterError and the job runs again after it', async () => {
    const { workspaceId, accountId, email } = await c.seedAccount({ provider: 'microsoft' });
    c.graph.put(email, { start: new Date(Date.now() + 86_400_000).toISOString(), end: new Date(Date.now() + 90_000_000).toISOString() });
    c.graph.fault({ status: 429, endpoint: 'calendarView.delta', headers: { 'retry-after': '4' } });
    const w = await h.worker(c.deps());
    const done = await h.run(w, syncCalendar, { workspaceId, requestedBy: 'test', calendarAccountId: accountId, syncType: 'incremental', slot: slot() });
    expect(done.state).toBe('completed');
    expect(c.graph.log('calendarView.delta').map((r) => r.status)).toEqual([429, 200]);
    expect(Object.keys(await stored(workspaceId, accountId))).toHaveLength(1);
  }, 60_000);
});

describe('sync-calendar: the calendar-sync schedule (every 15 minutes, honouring sync_frequency_minutes)', () => {
  it('is declared on the integration queue as a fan-out', () => {
    expect(schedulesOn('integration').map((s) => [s.key, s.cron, s.data])).toContainEqual([
      'calendar-sync',
      '*/15 * * * *',
      { fanOut: true, requestedBy: 'system' },
    ]);
  });

  it('enqueues one incremental sync per due account of every workspace, with deterministic ids', async () => {
    const fresh = await c.seedAccount({ provider: 'google' }); // never synced: due
    const hourlyDue = await c.seedAccount({ provider: 'microsoft' });
    const hourlyNotDue = await c.seedAccount({ provider: 'microsoft', workspaceId: hourlyDue.workspaceId });
    const disabled = await c.seedAccount({ provider: 'google', workspaceId: fresh.workspaceId });
    await h.pool.query(`UPDATE calendar_accounts SET sync_frequency_minutes = 60, last_synced_at = now() - interval '2 hours' WHERE id = $1`, [
      hourlyDue.accountId,
    ]);
    await h.pool.query(`UPDATE calendar_accounts SET sync_frequency_minutes = 60, last_synced_at = now() - interval '10 minutes' WHERE id = $1`, [
      hourlyNotDue.accountId,
    ]);
    await h.pool.query(`UPDATE calendar_accounts SET sync_enabled = false WHERE id = $1`, [disabled.accountId]);
    // accounts of other tests in this file's database are due too: count only ours
    const ours = [fresh, hourlyDue, hourlyNotDue, disabled].map((a) => a.accountId);
    const w = await h.worker(c.deps());
    const slot = calendarSyncSlot(Date.now());
    const fanOut = await h.run(w, syncCalendar, { fanOut: true, slot, requestedBy: 'test' });
    expect(fanOut.state).toBe('completed');
    expect(fanOut.value).toMatchObject({ form: 'fan-out', slot });
    for (const account of [fresh, hourlyDue]) {
      const child = await h.settle(w, `sync-calendar.${account.accountId}.incremental.${slot}`);
      expect(child.state).toBe('completed');
    }
    const synced = await h.pool.query<{ calendar_account_id: string }>(
      `SELECT DISTINCT calendar_account_id FROM calendar_sync_logs WHERE calendar_account_id = ANY($1::uuid[]) AND status = 'completed'`,
      [ours],
    );
    expect(synced.rows.map((r) => r.calendar_account_id).sort()).toEqual([fresh.accountId, hourlyDue.accountId].sort());
    expect(await w.inspect.job(`sync-calendar.${hourlyNotDue.accountId}.incremental.${slot}`)).toBeNull();
    expect(await w.inspect.job(`sync-calendar.${disabled.accountId}.incremental.${slot}`)).toBeNull();
  }, 60_000);
});
