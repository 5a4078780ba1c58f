import { TenancyError } from '@coldcopy/db';
import { seedDemo } from '@coldcopy/db/seed';
import { describe, expect, it } from 'vitest';
import { calculateCampaignStatsHandler } from '../src/handlers/calculate-campaign-stats.js';
import { performanceKey } from '../src/providers/performance-cache.js';
import { testContext, useAnalyticsHarness } from './harness.js';

const h = useAnalyticsHarness();
const SLOT = '20261206T0100Z';

/** Counters recomputed the slow way: whole tables, grouped, no per-campaign index path. */
async function bruteForceCounters(workspaceId: string) {
  const { rows } = await h.pool.query(
    `SELECT c.id,
            (SELECT count(*) FROM campaign_leads cl WHERE cl.campaign_id = c.id)::int AS total_leads,
            (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = c.id AND ce.sent_at IS NOT NULL)::int AS sent_count,
            (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = c.id AND ce.opened_at IS NOT NULL)::int AS open_count,
            (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = c.id AND ce.clicked_at IS NOT NULL)::int AS click_count,
            (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = c.id AND ce.replied_at IS NOT NULL)::int AS reply_count,
            (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = c.id AND ce.delivery_status = 'bounced')::int AS bounce_count
     FROM campaigns c WHERE c.workspace_id = $1 AND c.status = 'active' AND c.deleted_at IS NULL ORDER BY c.id`,
    [workspaceId],
  );
  return rows;
}

async function storedCounters(workspaceId: string) {
  const { rows } = await h.pool.query(
    `SELECT id, total_leads, sent_count, open_count, click_count, reply_count, bounce_count
     FROM campaigns WHERE workspace_id = $1 AND status = 'active' AND deleted_at IS NULL ORDER BY id`,
    [workspaceId],
  );
  return rows;
}

async function fingerprint(workspaceId: string) {
  const { rows } = await h.pool.query(
    `SELECT md5(string_agg(x::text, '|' ORDER BY x::text)) AS f FROM (
       SELECT c.id, c.total_leads, c.sent_count, c.open_count, c.click_count, c.reply_count, c.bounce_count FROM campaigns c WHERE c.workspace_id = $1
       UNION ALL SELECT cl.id, cl.email_count, cl.open_count, cl.click_count, 0, 0, 0 FROM campaign_leads cl WHERE cl.workspace_id = $1
       UNION ALL SELECT s.id, s.emails_sent, s.opened, s.clicked, s.replied, s.bounced, s.leads_added FROM analytics_summary s WHERE s.workspace_id = $1
     ) x`,
    [workspaceId],
  );
  return rows[0].f as string | null;
}

describe('calculate-campaign-stats', () => {
  it('recomputes every active campaign of a seeded workspace to the brute-force figures, and leaves the other workspace alone', async () => {
    const client = await h.pool.connect();
    const a = await seedDemo(client, { seed: 101, leads: 400, refreshViews: false });
    const b = await seedDemo(client, { seed: 202, leads: 300, refreshViews: false });
    client.release();
    // scramble the stored counters of both workspaces: the job must recompute, not increment
    await h.pool.query(`UPDATE campaigns SET total_leads = 7, sent_count = 7, open_count = 7, click_count = 7, reply_count = 7, bounce_count = 7`);
    await h.pool.query(`UPDATE campaign_leads SET email_count = 9, open_count = 9, click_count = 9`);
    const before = await fingerprint(b.workspaceId);

    const deps = h.deps();
    const result = await calculateCampaignStatsHandler({ workspaceId: a.workspaceId, requestedBy: 'system', slot: SLOT }, testContext(deps));
    const expected = await bruteForceCounters(a.workspaceId);
    expect(expected.length).toBeGreaterThan(0);
    expect(expected.some((r) => r.sent_count > 0 && r.open_count > 0)).toBe(true);
    expect(result).toMatchObject({ updated: expected.length, failed: [] });
    expect(await storedCounters(a.workspaceId)).toEqual(expected);

    // enrolment counters from the ledger, brute force
    const { rows: enrolmentDiff } = await h.pool.query(
      `SELECT cl.id FROM campaign_leads cl JOIN campaigns c ON c.id = cl.campaign_id AND c.status = 'active'
       WHERE cl.workspace_id = $1 AND (cl.email_count, cl.open_count, cl.click_count) IS DISTINCT FROM (
         (SELECT count(*) FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id AND ce.sent_at IS NOT NULL)::int,
         (SELECT coalesce(sum(open_count), 0) FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id)::int,
         (SELECT coalesce(sum(click_count), 0) FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id)::int)`,
      [a.workspaceId],
    );
    expect(enrolmentDiff).toEqual([]);

    // analytics_summary: the recent days, brute force over the events
    const { rows: summaryDiff } = await h.pool.query(
      `SELECT s.date FROM analytics_summary s
       WHERE s.workspace_id = $1 AND (s.emails_sent, s.opened, s.clicked, s.replied, s.bounced, s.leads_added) IS DISTINCT FROM (
         (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.event_type = 'sent' AND (e.created_at AT TIME ZONE 'UTC')::date = s.date)::int,
         (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.event_type = 'opened' AND (e.created_at AT TIME ZONE 'UTC')::date = s.date)::int,
         (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.event_type = 'clicked' AND (e.created_at AT TIME ZONE 'UTC')::date = s.date)::int,
         (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.event_type = 'replied' AND (e.created_at AT TIME ZONE 'UTC')::date = s.date)::int,
         (SELECT count(*) FROM email_events e WHERE e.workspace_id = $1 AND e.event_type = 'bounced' AND (e.created_at AT TIME ZONE 'UTC')::date = s.date)::int,
         (SELECT count(*) FROM leads l WHERE l.workspace_id = $1 AND (l.created_at AT TIME ZONE 'UTC')::date = s.date)::int)`,
      [a.workspaceId],
    );
    expect(summaryDiff).toEqual([]);
    const { rows: days } = await h.pool.query('SELECT count(*)::int AS n FROM analytics_summary WHERE workspace_id = $1', [a.workspaceId]);
    expect(days[0].n).toBe(deps.config.stats.summaryDays);

    // the web app's cache: one key per campaign of this workspace, 10 minutes
    for (const c of expected) {
      const key = performanceKey(a.workspaceId, c.id);
      const cached = JSON.parse((await h.redis.get(key))!);
      expect(cached).toMatchObject({ workspaceId: a.workspaceId, campaignId: c.id, sent: c.sent_count, opened: c.open_count, replied: c.reply_count });
      const ttl = await h.redis.ttl(key);
      expect(ttl).toBeGreaterThan(590);
      expect(ttl).toBeLessThanOrEqual(600);
      await h.redis.del(key);
    }

    // tenancy: workspace B is byte-for-byte what it was
    expect(await fingerprint(b.workspaceId)).toBe(before);
  });

  it("refuses another workspace's campaign before writing anything", async () => {
    const { rows } = await h.pool.query(
      `SELECT c.id, c.workspace_id FROM campaigns c JOIN workspaces w ON w.id = c.workspace_id WHERE w.slug = 'demo-202' LIMIT 1`,
    );
    const { rows: ws } = await h.pool.query(`SELECT id FROM workspaces WHERE slug = 'demo-101'`);
    const before = await fingerprint(rows[0].workspace_id);
    await expect(
      calculateCampaignStatsHandler({ workspaceId: ws[0].id, campaignId: rows[0].id, requestedBy: 'system', slot: SLOT }, testContext(h.deps())),
    ).rejects.toBeInstanceOf(TenancyError);
    expect(await fingerprint(rows[0].workspace_id)).toBe(before);
  });

  it('reports a campaign whose statement runs out of time and still updates the others', async () => {
    const { rows: ws } = await h.pool.query(`SELECT id FROM workspaces WHERE slug = 'demo-101'`);
    const workspaceId = ws[0].id as string;
    const { rows: campaigns } = await h.pool.query(`SELECT id FROM campaigns WHERE workspace_id = $1 AND status = 'active' ORDER BY id`, [workspaceId]);
    // hold a lock on one campaign's row: its UPDATE waits until the statement timeout cancels it
    const blocker = await h.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE', [campaigns[0].id]);
    try {
      const result = (await calculateCampaignStatsHandler(
        { workspaceId, requestedBy: 'system', slot: SLOT },
        testContext(h.deps({ config: { stats: { statementTimeoutMs: 300, summaryDays: 1 } } })),
      )) as { updated: number; failed: Array<{ campaignId: string; reason: string }> };
      expect(result.failed).toEqual([{ campaignId: campaigns[0].id, reason: 'statement timeout' }]);
      expect(result.updated).toBe(campaigns.length - 1);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
  });
});
