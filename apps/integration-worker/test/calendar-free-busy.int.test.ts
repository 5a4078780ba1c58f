import { randomUUID } from 'node:crypto';
import { type BusyInterval, type CalendarFreeBusy, createFakeFreeBusy } from '@coldcopy/calendar';
import { getCalendarAccount, listOpenIntegrationNotices } from '@coldcopy/db';
import { describe, expect, it } from 'vitest';
import { useCalendarHarness } from './calendar-harness.js';

const c = useCalendarHarness();
const { h } = c;
const t = (day: number, hour: number, minutes = 0) => new Date(Date.UTC(2026, 11, day, hour, minutes));
const iso = (d: Date) => d.toISOString();
const plain = (list: BusyInterval[]) => list.map((b) => [iso(b.start), iso(b.end)]);

describe('free/busy port: Google freeBusy and Graph getSchedule through the provider adapter, and the fake', () => {
  it('merges the busy time of every connected calendar of the workspace, clipped to the window; the fake answers the same for the same busy time', async () => {
    const google = await c.seedAccount({ provider: 'google', expired: true });
    const { workspaceId } = google;
    const microsoft = await c.seedAccount({ provider: 'microsoft', workspaceId });
    c.google.put(google.email, { start: iso(t(7, 9)), end: iso(t(7, 10)) });
    c.google.put(google.email, { start: iso(t(7, 9, 30)), end: iso(t(7, 11)) });
    c.google.put(google.email, { start: iso(t(7, 12)), end: iso(t(7, 13)), transparency: 'transparent' }); // free
    const gone = c.google.put(google.email, { start: iso(t(7, 15)), end: iso(t(7, 16)) });
    c.google.remove(google.email, gone.id);
    c.graph.put(microsoft.email, { start: iso(t(7, 10, 30)), end: iso(t(7, 11, 30)) });
    c.graph.put(microsoft.email, { start: iso(t(8, 14)), end: iso(t(8, 15)), showAs: 'oof' });
    c.graph.put(microsoft.email, { start: iso(t(8, 16)), end: iso(t(8, 17)), showAs: 'free' });
    c.graph.put(microsoft.email, { start: iso(t(9, 8)), end: iso(t(9, 10)) }); // across the window's end

    const port: CalendarFreeBusy = c.deps().calendar.freeBusy;
    const busy = await port.busy(workspaceId, t(7, 0), t(9, 9));
    expect(plain(busy)).toEqual([
      [iso(t(7, 9)), iso(t(7, 11, 30))],
      [iso(t(8, 14)), iso(t(8, 15))],
      [iso(t(9, 8)), iso(t(9, 9))],
    ]);
    // one call per provider; the expired Google token refreshed once on the way
    expect(c.google.log('freeBusy').map((r) => r.status)).toEqual([200]);
    expect(c.graph.log('getSchedule').map((r) => r.status)).toEqual([200]);
    expect(c.google.log('token').map((r) => r.status)).toEqual([200]);

    // clipped at the start as well
    expect(plain(await port.busy(workspaceId, t(7, 9, 45), t(7, 23)))).toEqual([[iso(t(7, 9, 45)), iso(t(7, 11, 30))]]);

    // the fake, given the same raw busy time, answers the same (the AI worker's tests use it)
    const raw = [
      { start: t(7, 9), end: t(7, 10) },
      { start: t(7, 9, 30), end: t(7, 11) },
      { start: t(7, 10, 30), end: t(7, 11, 30) },
      { start: t(8, 14), end: t(8, 15) },
      { start: t(9, 8), end: t(9, 10) },
    ];
    const fake = createFakeFreeBusy({ [workspaceId]: raw });
    expect(plain(await fake.busy(workspaceId, t(7, 0), t(9, 9)))).toEqual(plain(busy));
    expect(await fake.busy(randomUUID(), t(7, 0), t(9, 9))).toEqual([]);

    // a workspace without calendars is free, and nothing is asked
    c.google.requests.length = 0;
    const other = randomUUID();
    await h.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'No Cal', $2, 'active')`, [other, `nocal-${other.slice(0, 8)}`]);
    expect(await port.busy(other, t(7, 0), t(9, 0))).toEqual([]);
    expect(c.google.requests).toEqual([]);
  }, 60_000);

  it('revoked consent: the refresh is refused, the account stops syncing with one reconnect notice, and free/busy fails instead of proposing unchecked slots', async () => {
    const { workspaceId, accountId, email } = await c.seedAccount({ provider: 'microsoft', expired: true });
    c.microsoftOAuth.revoke(email);
    const port = c.deps().calendar.freeBusy;
    await expect(port.busy(workspaceId, t(7, 0), t(8, 0))).rejects.toThrow(/revoked/);
    const row = (await getCalendarAccount(h.pool, workspaceId, accountId))!;
    expect(row).toMatchObject({ status: 'revoked', sync_enabled: false, access_token_encrypted: null, refresh_token_encrypted: null });
    expect((await listOpenIntegrationNotices(h.pool, workspaceId)).map((n) => [n.provider, n.kind])).toEqual([['microsoft', 'reconnect_required']]);
    // a revoked account is no longer asked: the workspace is free again
    expect(await port.busy(workspaceId, t(7, 0), t(8, 0))).toEqual([]);
    expect(c.graph.log('token').map((r) => r.status)).toEqual([400]);
  }, 60_000);
});
