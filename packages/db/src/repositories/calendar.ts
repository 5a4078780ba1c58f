import type { Queryable } from '../pool.js';
import { type EncryptedTokens, openIntegrationNotice } from './integrations.js';
import { assertWorkspaceId, isUuid } from './scope.js';

/**
 * Calendar accounts (Google, Microsoft) for sync-calendar and free/busy: tokens arrive here already
 * encrypted; the cursor (Google sync token, Graph delta link) lives on the account; the events the
 * sync read are in calendar_events (times only), and meetings we put on a calendar keep their
 * provider event id on scheduled_meetings.
 */
export type CalendarProviderName = 'google' | 'microsoft';

export interface CalendarAccountRow {
  id: string;
  workspace_id: string;
  user_id: string | null;
  provider: CalendarProviderName;
  email: string;
  status: 'active' | 'inactive' | 'error' | 'revoked';
  access_token_encrypted: Buffer | null;
  refresh_token_encrypted: Buffer | null;
  token_key_id: string | null;
  expires_at: Date | null;
  sync_enabled: boolean;
  sync_token: string | null;
  delta_link: string | null;
  primary_calendar_id: string | null;
  calendar_ids: string[];
  sync_frequency_minutes: number;
  last_synced_at: Date | null;
  last_error: string | null;
}

const ACCOUNT_COLUMNS = `id, workspace_id, user_id, provider, email, status, access_token_encrypted, refresh_token_encrypted, token_key_id, expires_at,
  sync_enabled, sync_token, delta_link, primary_calendar_id, calendar_ids, sync_frequency_minutes, last_synced_at, last_error`;

/** The account, or undefined when it does not exist in this workspace (an id of another workspace reads as missing). */
export async function getCalendarAccount(db: Queryable, workspaceId: string, accountId: string): Promise<CalendarAccountRow | undefined> {
  assertWorkspaceId(workspaceId);
  if (!isUuid(accountId)) return undefined;
  const { rows } = await db.query<CalendarAccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM calendar_accounts WHERE workspace_id = $1 AND id = $2`, [
    workspaceId,
    accountId,
  ]);
  return rows[0];
}

/** The workspace's accounts that free/busy and the schedule use: active with sync on. */
export async function listActiveCalendarAccounts(db: Queryable, workspaceId: string): Promise<CalendarAccountRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<CalendarAccountRow>(
    `SELECT ${ACCOUNT_COLUMNS} FROM calendar_accounts WHERE workspace_id = $1 AND status = 'active' AND sync_enabled ORDER BY created_at, id`,
    [workspaceId],
  );
  return rows;
}

/**
 * The calendar schedule's fan-out (global: every workspace): active, sync-enabled accounts whose
 * `sync_frequency_minutes` have passed since their last completed sync at `dueBy` (the end of the
 * tick's slot), a page at a time by id.
 */
export async function calendarAccountsDue(
  db: Queryable,
  q: { dueBy: Date; after?: string; limit: number },
): Promise<Array<{ id: string; workspace_id: string }>> {
  const { rows } = await db.query<{ id: string; workspace_id: string }>(
    `SELECT id, workspace_id FROM calendar_accounts
     WHERE status = 'active' AND sync_enabled AND id > $2
       AND (last_synced_at IS NULL OR last_synced_at + make_interval(mins => sync_frequency_minutes) <= $1)
     ORDER BY id LIMIT $3`,
    [q.dueBy, q.after ?? '00000000-0000-0000-0000-000000000000', q.limit],
  );
  return rows;
}

/** Creates or replaces a workspace's account (the OAuth callback, seeds and tests); it starts active with sync on and no cursor. */
export async function saveCalendarAccount(
  db: Queryable,
  workspaceId: string,
  account: {
    provider: CalendarProviderName;
    email: string;
    userId?: string;
    tokens: EncryptedTokens & { refreshToken: Buffer };
    primaryCalendarId?: string;
    calendarIds?: string[];
    syncFrequencyMinutes?: number;
  },
  /** the id the tokens are bound to (a new account's id is chosen by the caller so it can seal them first) */
  accountId: string,
): Promise<CalendarAccountRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<CalendarAccountRow>(
    `INSERT INTO calendar_accounts (id, workspace_id, user_id, provider, email, status, access_token_encrypted, refresh_token_encrypted, token_key_id,
       expires_at, sync_enabled, primary_calendar_id, calendar_ids, sync_frequency_minutes)
     VALUES ($1, $2, $3, $4, lower(btrim($5)), 'active', $6, $7, $8, $9, true, $10, $11, $12)
     ON CONFLICT (workspace_id, provider, email) DO UPDATE SET status = 'active', access_token_encrypted = EXCLUDED.access_token_encrypted,
       refresh_token_encrypted = EXCLUDED.refresh_token_encrypted, token_key_id = EXCLUDED.token_key_id, expires_at = EXCLUDED.expires_at,
       sync_enabled = true, last_error = NULL
     WHERE calendar_accounts.id = EXCLUDED.id
     RETURNING ${ACCOUNT_COLUMNS}`,
    [
      accountId,
      workspaceId,
      account.userId ?? null,
      account.provider,
      account.email,
      account.tokens.accessToken,
      account.tokens.refreshToken,
      account.tokens.keyId,
      account.tokens.expiresAt,
      account.primaryCalendarId ?? null,
      account.calendarIds ?? [],
      account.syncFrequencyMinutes ?? 15,
    ],
  );
  if (!rows[0]) throw new Error('calendar account exists under another id: tokens sealed for this id cannot be stored on it');
  return rows[0];
}

/** Persists refreshed (or re-sealed) tokens of an active account; false when it is no longer active. */
export async function storeCalendarTokens(db: Queryable, workspaceId: string, accountId: string, tokens: EncryptedTokens): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `UPDATE calendar_accounts SET access_token_encrypted = $3, refresh_token_encrypted = coalesce($4, refresh_token_encrypted), token_key_id = $5,
       expires_at = $6, last_error = NULL
     WHERE workspace_id = $1 AND id = $2 AND status = 'active'`,
    [workspaceId, accountId, tokens.accessToken, tokens.refreshToken ?? null, tokens.keyId, tokens.expiresAt],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Revoked consent: the account stops (status `revoked`, `sync_enabled = false`, tokens wiped) and
 * one open notice asks the user to reconnect (run both in one transaction). True for the call that changed the state.
 */
export async function deactivateCalendarAccount(db: Queryable, workspaceId: string, accountId: string, message: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ provider: string }>(
    `UPDATE calendar_accounts SET status = 'revoked', sync_enabled = false, last_error = $3, access_token_encrypted = NULL, refresh_token_encrypted = NULL
     WHERE workspace_id = $1 AND id = $2 AND status = 'active'
     RETURNING provider`,
    [workspaceId, accountId, message.slice(0, 500)],
  );
  if (!rows[0]) return false;
  await openIntegrationNotice(db, workspaceId, { provider: rows[0].provider, kind: 'reconnect_required', message, connectionId: accountId });
  return true;
}

export interface CalendarEventWrite {
  readonly providerEventId: string;
  readonly icalUid: string | null;
  readonly status: 'confirmed' | 'tentative';
  readonly busy: boolean;
  readonly allDay: boolean;
  readonly startsAt: Date;
  readonly endsAt: Date;
  readonly remoteUpdatedAt: Date | null;
}

/**
 * One page of a sync round, in the caller's transaction: events upserted (stamped with the round's
 * start), deleted ones removed, and meetings we put on this calendar follow their event (moved, or
 * cancelled when it was deleted). Returns the rows written.
 */
export async function applyCalendarChanges(
  db: Queryable,
  workspaceId: string,
  accountId: string,
  page: { upserts: readonly CalendarEventWrite[]; deletes: readonly string[]; roundStartedAt: Date },
): Promise<{ upserted: number; deleted: number; meetingsMoved: number; meetingsCancelled: number }> {
  assertWorkspaceId(workspaceId);
  let upserted = 0;
  let deleted = 0;
  let meetingsMoved = 0;
  let meetingsCancelled = 0;
  if (page.upserts.length) {
    const res = await db.query(
      `INSERT INTO calendar_events (workspace_id, calendar_account_id, provider_event_id, ical_uid, status, busy, all_day, starts_at, ends_at,
         remote_updated_at, synced_at)
       SELECT a.workspace_id, a.id, e.id, e.ical, e.status, e.busy, e.all_day, e.s, e.t, e.u, $3
       FROM calendar_accounts a,
            unnest($4::text[], $5::text[], $6::text[], $7::boolean[], $8::boolean[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[])
              AS e(id, ical, status, busy, all_day, s, t, u)
       WHERE a.workspace_id = $1 AND a.id = $2
       ON CONFLICT (calendar_account_id, provider_event_id) DO UPDATE SET ical_uid = EXCLUDED.ical_uid, status = EXCLUDED.status, busy = EXCLUDED.busy,
         all_day = EXCLUDED.all_day, starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, remote_updated_at = EXCLUDED.remote_updated_at,
         synced_at = EXCLUDED.synced_at`,
      [
        workspaceId,
        accountId,
        page.roundStartedAt,
        page.upserts.map((e) => e.providerEventId),
        page.upserts.map((e) => e.icalUid),
        page.upserts.map((e) => e.status),
        page.upserts.map((e) => e.busy),
        page.upserts.map((e) => e.allDay),
        page.upserts.map((e) => e.startsAt),
        page.upserts.map((e) => e.endsAt),
        page.upserts.map((e) => e.remoteUpdatedAt),
      ],
    );
    upserted = res.rowCount ?? 0;
    const moved = await db.query(
      `UPDATE scheduled_meetings m SET starts_at = e.starts_at, ends_at = e.ends_at
       FROM calendar_events e
       WHERE m.workspace_id = $1 AND m.calendar_account_id = $2 AND e.calendar_account_id = $2 AND e.provider_event_id = m.calendar_event_id
         AND e.provider_event_id = ANY($3::text[]) AND e.ends_at > e.starts_at AND m.status IN ('scheduled', 'confirmed')
         AND (m.starts_at, m.ends_at) IS DISTINCT FROM (e.starts_at, e.ends_at)`,
      [workspaceId, accountId, page.upserts.map((e) => e.providerEventId)],
    );
    meetingsMoved = moved.rowCount ?? 0;
  }
  if (page.deletes.length) {
    const res = await db.query(`DELETE FROM calendar_events WHERE workspace_id = $1 AND calendar_account_id = $2 AND provider_event_id = ANY($3::text[])`, [
      workspaceId,
      accountId,
      page.deletes,
    ]);
    deleted = res.rowCount ?? 0;
    meetingsCancelled = await cancelMeetingsOf(db, workspaceId, accountId, page.deletes);
  }
  return { upserted, deleted, meetingsMoved, meetingsCancelled };
}

async function cancelMeetingsOf(db: Queryable, workspaceId: string, accountId: string, eventIds: readonly string[]): Promise<number> {
  if (!eventIds.length) return 0;
  const res = await db.query(
    `UPDATE scheduled_meetings SET status = 'cancelled'
     WHERE workspace_id = $1 AND calendar_account_id = $2 AND calendar_event_id = ANY($3::text[]) AND status IN ('scheduled', 'confirmed')`,
    [workspaceId, accountId, eventIds],
  );
  return res.rowCount ?? 0;
}

/**
 * The end of a full round: the account's events that round did not see are gone at the provider
 * (deleted while we had no cursor); they are removed and their meetings cancelled.
 */
export async function sweepCalendarEvents(db: Queryable, workspaceId: string, accountId: string, roundStartedAt: Date): Promise<number> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ provider_event_id: string }>(
    `DELETE FROM calendar_events WHERE workspace_id = $1 AND calendar_account_id = $2 AND synced_at < $3 RETURNING provider_event_id`,
    [workspaceId, accountId, roundStartedAt],
  );
  await cancelMeetingsOf(
    db,
    workspaceId,
    accountId,
    rows.map((r) => r.provider_event_id),
  );
  return rows.length;
}

/** The cursor after a committed round (Google sync token or Graph delta link); null wipes it (410 Gone). */
export async function storeCalendarCursor(
  db: Queryable,
  workspaceId: string,
  accountId: string,
  cursor: { syncToken: string | null } | { deltaLink: string | null },
  finished: boolean,
): Promise<void> {
  assertWorkspaceId(workspaceId);
  const column = 'syncToken' in cursor ? 'sync_token' : 'delta_link';
  const value = 'syncToken' in cursor ? cursor.syncToken : cursor.deltaLink;
  await db.query(
    `UPDATE calendar_accounts SET ${column} = $3, last_synced_at = CASE WHEN $4 THEN now() ELSE last_synced_at END, last_error = CASE WHEN $4 THEN NULL ELSE last_error END
     WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, accountId, value, finished],
  );
}

/** What the account's calendar holds as the sync read it (tests and the web app's calendar view). */
export async function listCalendarEvents(db: Queryable, workspaceId: string, accountId: string): Promise<Array<CalendarEventWrite & { syncedAt: Date }>> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{
    provider_event_id: string;
    ical_uid: string | null;
    status: 'confirmed' | 'tentative';
    busy: boolean;
    all_day: boolean;
    starts_at: Date;
    ends_at: Date;
    remote_updated_at: Date | null;
    synced_at: Date;
  }>(
    `SELECT provider_event_id, ical_uid, status, busy, all_day, starts_at, ends_at, remote_updated_at, synced_at
     FROM calendar_events WHERE workspace_id = $1 AND calendar_account_id = $2 ORDER BY provider_event_id`,
    [workspaceId, accountId],
  );
  return rows.map((r) => ({
    providerEventId: r.provider_event_id,
    icalUid: r.ical_uid,
    status: r.status,
    busy: r.busy,
    allDay: r.all_day,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    remoteUpdatedAt: r.remote_updated_at,
    syncedAt: r.synced_at,
  }));
}

export interface MeetingToPush {
  id: string;
  title: string;
  description: string | null;
  starts_at: Date;
  ends_at: Date;
  timezone: string;
}

/** Meetings booked on this calendar that have no provider event yet (upcoming, not cancelled). */
export async function meetingsToPush(db: Queryable, workspaceId: string, accountId: string, limit: number): Promise<MeetingToPush[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<MeetingToPush>(
    `SELECT id, title, description, starts_at, ends_at, timezone FROM scheduled_meetings
     WHERE workspace_id = $1 AND calendar_account_id = $2 AND calendar_event_id IS NULL AND status IN ('scheduled', 'confirmed') AND ends_at > now()
     ORDER BY starts_at, id LIMIT $3`,
    [workspaceId, accountId, limit],
  );
  return rows;
}

/** Records the provider event of a meeting we created (only once: a second writer keeps the first id). */
export async function setMeetingEvent(db: Queryable, workspaceId: string, meetingId: string, eventId: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const { rowCount } = await db.query(
    `UPDATE scheduled_meetings SET calendar_event_id = $3 WHERE workspace_id = $1 AND id = $2 AND calendar_event_id IS NULL`,
    [workspaceId, meetingId, eventId],
  );
  return (rowCount ?? 0) > 0;
}

/** Opens a calendar_sync_logs row for a run; returns its id. */
export async function startCalendarSyncLog(
  db: Queryable,
  workspaceId: string,
  accountId: string,
  syncType: 'full' | 'incremental' | 'webhook',
): Promise<string> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO calendar_sync_logs (workspace_id, calendar_account_id, sync_type) VALUES ($1, $2, $3) RETURNING id`,
    [workspaceId, accountId, syncType],
  );
  return rows[0]!.id;
}

export async function finishCalendarSyncLog(
  db: Queryable,
  workspaceId: string,
  logId: string,
  outcome: { status: 'completed' | 'failed'; eventsSynced: number; errors: ReadonlyArray<Record<string, unknown>> },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE calendar_sync_logs SET status = $3, events_synced = $4, errors = $5, completed_at = now() WHERE workspace_id = $1 AND id = $2`, [
    workspaceId,
    logId,
    outcome.status,
    outcome.eventsSynced,
    JSON.stringify(outcome.errors),
  ]);
}

/** Marks a failed run on the account (the message only: never a token or provider body). */
export async function recordCalendarError(db: Queryable, workspaceId: string, accountId: string, message: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(`UPDATE calendar_accounts SET last_error = $3 WHERE workspace_id = $1 AND id = $2`, [workspaceId, accountId, message.slice(0, 500)]);
}
