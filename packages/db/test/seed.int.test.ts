import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seedDemo } from '../src/seed.js';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** Content of the demo workspace without timestamps (those are relative to `now`). */
async function snapshot(workspaceId: string) {
  const q = async (sql: string) => (await client.query(sql, [workspaceId])).rows;
  return {
    leads: await q(`SELECT id, email, first_name, last_name, company, title, status FROM leads WHERE workspace_id = $1 ORDER BY id`),
    enrolments: await q(`SELECT id, lead_id, status, current_step FROM campaign_leads WHERE workspace_id = $1 ORDER BY id`),
    emails: await q(`SELECT id, lead_id, step_number, status, delivery_status, message_id FROM campaign_emails WHERE workspace_id = $1 ORDER BY id`),
    events: await q(`SELECT event_type, count(*)::int AS n FROM email_events WHERE workspace_id = $1 GROUP BY 1 ORDER BY 1`),
  };
}

describe('demo seed', () => {
  it('creates a realistic workspace: mailboxes, two 3-step campaigns, 1,000 leads with history', async () => {
    const now = new Date();
    const summary = await seedDemo(client, { seed: 42, now });
    expect(summary).toMatchObject({ slug: 'demo-42', leads: 1000 });

    const count = async (sql: string) => (await client.query<{ n: number }>(sql, [summary.workspaceId])).rows[0]!.n;
    expect(await count('SELECT count(*)::int AS n FROM mailboxes WHERE workspace_id = $1')).toBe(3);
    expect(await count('SELECT count(*)::int AS n FROM leads WHERE workspace_id = $1')).toBe(1000);
    expect(await count('SELECT count(DISTINCT email)::int AS n FROM leads WHERE workspace_id = $1')).toBe(1000);
    const steps = await client.query<{ campaign_id: string; n: number }>(
      'SELECT campaign_id, count(*)::int AS n FROM campaign_sequences WHERE workspace_id = $1 GROUP BY 1',
      [summary.workspaceId],
    );
    expect(steps.rows.map((r) => r.n)).toEqual([3, 3]);

    const events = Object.fromEntries((await snapshot(summary.workspaceId)).events.map((e) => [e.event_type, e.n]));
    for (const type of ['sent', 'delivered', 'opened', 'replied', 'bounced']) expect(events[type], type).toBeGreaterThan(0);
    expect(await count(`SELECT count(*)::int AS n FROM suppression_list WHERE workspace_id = $1`)).toBeGreaterThan(0);
    // plausible names: no placeholders
    const sample = await client.query<{ first_name: string; company: string; email: string }>(
      'SELECT first_name, company, email FROM leads WHERE workspace_id = $1 LIMIT 5',
      [summary.workspaceId],
    );
    for (const lead of sample.rows) {
      expect(lead.first_name).toMatch(/^[A-Z][a-z]+$/);
      expect(lead.company).toMatch(/^[A-Z][a-z]+ [A-Z][A-Za-z]+$/);
      expect(lead.email).toMatch(/^[a-z0-9._]+@[a-z0-9-]+\.example$/);
    }
    // counters were recomputed from the ledger
    const campaign = await client.query<{ sent_count: number; total_leads: number }>(
      'SELECT sum(sent_count)::int AS sent_count, sum(total_leads)::int AS total_leads FROM campaigns WHERE workspace_id = $1',
      [summary.workspaceId],
    );
    expect(campaign.rows[0]!.sent_count).toBe(summary.campaignEmails);
    expect(campaign.rows[0]!.total_leads).toBe(summary.enrolments);
    // the analytics views were populated
    const analytics = await client.query<{ sent: string }>('SELECT sent FROM mv_workspace_analytics WHERE workspace_id = $1', [summary.workspaceId]);
    expect(Number(analytics.rows[0]!.sent)).toBe(summary.campaignEmails);
  });

  it('reuses the workspace when run again with the same seed and lead count', async () => {
    const again = await seedDemo(client, { seed: 42 });
    expect(again).toMatchObject({ skipped: true, slug: 'demo-42', leads: 1000 });
  });

  it('is deterministic: replacing the workspace with the same seed gives identical content', async () => {
    const now = new Date();
    const first = await seedDemo(client, { seed: 7, leads: 300, now, refreshViews: false });
    expect(first.skipped).toBe(false);
    const before = await snapshot(first.workspaceId);
    const second = await seedDemo(client, { seed: 7, leads: 300, now, refreshViews: false, force: true });
    expect(second.skipped).toBe(false);
    expect(second.workspaceId).toBe(first.workspaceId);
    expect(await snapshot(second.workspaceId)).toEqual(before);
    const workspaces = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM workspaces WHERE slug = 'demo-7'`);
    expect(workspaces.rows[0]!.n).toBe(1);

    // a different lead count replaces without --force; the first 300 leads are the same people
    const bigger = await seedDemo(client, { seed: 7, leads: 400, now, refreshViews: false });
    expect(bigger).toMatchObject({ skipped: false, leads: 400 });

    const other = await seedDemo(client, { seed: 8, leads: 300, now, refreshViews: false });
    expect(other.workspaceId).not.toBe(first.workspaceId);
    expect((await snapshot(other.workspaceId)).leads).not.toEqual(before.leads);
  });
});
