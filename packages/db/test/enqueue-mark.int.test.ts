import { beforeEach, describe, expect, it } from 'vitest';
import { TenancyError } from '../src/errors.js';
import {
  claimCampaignEmail,
  deferCampaignEmail,
  listDueCampaignEmails,
  markCampaignEmailFailed,
  markCampaignEmailsEnqueued,
  markCampaignEmailUnknown,
  rescheduleCampaignEmail,
  resolveUnknownCampaignEmail,
} from '../src/index.js';
import { type TenantFixture, useTwoTenants } from './fixtures.js';

/*
 * campaign_emails.enqueued_at (migration 20261129100000000): the campaign tick lists only the
 * claimable rows that need a send-email job (listDueCampaignEmails with `enqueuedBefore`) and
 * marks the ones it enqueued (markCampaignEmailsEnqueued). Driven through the ledger's own
 * transitions (claim, fail, unknown, defer, reschedule), as the send path runs them.
 */

const fx = useTwoTenants();
beforeEach(async () => {
  // due a minute ago, like a row a tick scheduled
  await fx.pool.query(`UPDATE campaign_emails SET scheduled_at = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [
    [fx.a.campaignEmailId, fx.b.campaignEmailId],
  ]);
});

const INTERVAL_MS = 600_000;
const ago = (ms: number) => new Date(Date.now() - ms);
/** What the tick asks for: due now, re-enqueue after INTERVAL_MS. */
const due = (t: TenantFixture = fx.a) =>
  listDueCampaignEmails(fx.pool, t.workspaceId, t.campaignId, { before: new Date(), limit: 10, enqueuedBefore: ago(INTERVAL_MS) });
const mark = (at: Date, t: TenantFixture = fx.a, ids = [t.campaignEmailId]) => markCampaignEmailsEnqueued(fx.pool, t.workspaceId, t.campaignId, ids, at);
const enqueuedAt = async (id: string) =>
  (await fx.pool.query<{ enqueued_at: Date | null }>('SELECT enqueued_at FROM campaign_emails WHERE id = $1', [id])).rows[0]!.enqueued_at;

describe('listDueCampaignEmails with enqueuedBefore, markCampaignEmailsEnqueued', () => {
  it('lists a row until it is marked, again once the mark is older than the interval', async () => {
    expect(await due()).toEqual([{ id: fx.a.campaignEmailId, attempt: 0 }]);
    expect(await mark(ago(1000))).toBe(1);
    expect(await due()).toEqual([]);
    // without enqueuedBefore: every claimable due row, as before the mark existed
    expect(await listDueCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, { before: new Date(), limit: 10 })).toHaveLength(1);
    // the job may be lost (Redis restarted without persistence): enqueued again
    await fx.pool.query(`UPDATE campaign_emails SET scheduled_at = now() - interval '12 minutes', enqueued_at = now() - interval '11 minutes' WHERE id = $1`, [
      fx.a.campaignEmailId,
    ]);
    expect(await due()).toEqual([{ id: fx.a.campaignEmailId, attempt: 0 }]);
  });

  it('lists a row claimed since its mark and claimable again at once (the claim used the job up)', async () => {
    await mark(ago(1000));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(await due()).toEqual([]); // sending
    await markCampaignEmailFailed(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, { error: 'mailbox paused', retryable: true });
    expect(await due()).toEqual([{ id: fx.a.campaignEmailId, attempt: 1 }]);
    // the next tick (started after that) enqueues `<id>.1` and marks it: nothing more until the interval
    await mark(new Date());
    expect(await due()).toEqual([]);

    // an unknown outcome resolved to one resend (the tick's settle step)
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    await markCampaignEmailUnknown(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'timeout');
    await fx.pool.query(`UPDATE campaign_emails SET attempt = 1 WHERE id = $1`, [fx.a.campaignEmailId]); // the first unknown
    expect(await resolveUnknownCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, 'retryable')).not.toBeNull();
    expect(await due()).toEqual([{ id: fx.a.campaignEmailId, attempt: 1 }]);
  });

  it('leaves a deferred row to its own follow-up job until its new time plus the interval', async () => {
    await mark(ago(20 * 60_000)); // enqueued long ago
    // before the claim: moved to 5 minutes ago (the follow-up job ran then, or is about to)
    await rescheduleCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, ago(5 * 60_000), 'rate-limit');
    expect(await due()).toEqual([]);
    await rescheduleCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, ago(11 * 60_000), 'rate-limit');
    expect(await due()).toHaveLength(1); // its follow-up should have run 11 minutes ago

    // after the claim, given back (unclaim): same
    await mark(ago(1000));
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    await deferCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId, ago(1000), 'rate-limit');
    expect(await due()).toEqual([]);
    expect(
      await listDueCampaignEmails(fx.pool, fx.a.workspaceId, fx.a.campaignId, { before: new Date(), limit: 10, enqueuedBefore: new Date(Date.now() + 1000) }),
    ).toHaveLength(1);
  });

  it('marks only claimable rows of the workspace and campaign, never back in time; refuses B', async () => {
    const at = ago(60_000);
    expect(await mark(at, fx.a, [fx.a.campaignEmailId, fx.b.campaignEmailId])).toBe(1); // B's id matches nothing
    expect(await enqueuedAt(fx.b.campaignEmailId)).toBeNull();
    expect(await mark(ago(120_000))).toBe(0);
    expect((await enqueuedAt(fx.a.campaignEmailId))!.getTime()).toBe(at.getTime());
    await claimCampaignEmail(fx.pool, fx.a.workspaceId, fx.a.campaignEmailId);
    expect(await mark(new Date())).toBe(0); // sending: its claim stands
    await expect(markCampaignEmailsEnqueued(fx.pool, fx.a.workspaceId, fx.b.campaignId, [fx.b.campaignEmailId], new Date())).rejects.toBeInstanceOf(
      TenancyError,
    );
    expect(await enqueuedAt(fx.b.campaignEmailId)).toBeNull();
    await expect(
      listDueCampaignEmails(fx.pool, fx.a.workspaceId, fx.b.campaignId, { before: new Date(), limit: 10, enqueuedBefore: new Date() }),
    ).rejects.toBeInstanceOf(TenancyError);
  });
});
