import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  applyDeliveryStatus,
  cancelCampaignEmail,
  cancelLeadCampaignEmails,
  claimCampaignEmail,
  countCampaignEmailsSince,
  listEnrolmentsToTick,
  listUnsettledCampaignEmails,
  markCampaignEmailSent,
  scheduleCampaignEmails,
  sendReputation,
} from '../src/index.js';
import { useTwoTenants } from './fixtures.js';
import { tuplesRead } from './tuples-read.js';

/*
 * The campaign's daily limit and the bounce and complaint rates come from counters the ledger's
 * triggers keep (migration send_counters), not from counts over the ledger's history: the same
 * answers as those counts through every transition, and a read cost that does not grow with
 * what a campaign has sent.
 */

const fx = useTwoTenants();

/** The counts the functions made over the ledger before the counters. */
async function countedOverHistory(db: pg.Pool, ws: string, campaignId: string, mailboxId: string, since: Date) {
  const created = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1 AND workspace_id = $2 AND created_at >= $3 AND status <> 'cancelled'`,
    [campaignId, ws, since],
  );
  const reputation = async (column: string, id: string) =>
    (
      await db.query(
        `SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent,
                count(*) FILTER (WHERE delivery_status = 'bounced' AND coalesce(bounce_type, '') NOT LIKE '%OnAccountSuppressionList%')::int AS bounced,
                count(*) FILTER (WHERE delivery_status = 'complained')::int AS complained
         FROM campaign_emails WHERE ${column} = $1 AND workspace_id = $2 AND sent_at >= $3`,
        [id, ws, since],
      )
    ).rows[0];
  return { created: created.rows[0]!.n, mailbox: await reputation('mailbox_id', mailboxId), campaign: await reputation('campaign_id', campaignId) };
}

async function fromCounters(db: pg.Pool, ws: string, campaignId: string, mailboxId: string, since: Date) {
  return {
    created: await countCampaignEmailsSince(db, ws, campaignId, since),
    mailbox: await sendReputation(db, ws, { mailboxId }, since),
    campaign: await sendReputation(db, ws, { campaignId }, since),
  };
}

/** `n` more leads enrolled in tenant A's campaign; returns their lead ids. */
async function enrolLeads(db: pg.Pool, n: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH l AS (
       INSERT INTO leads (workspace_id, email, first_name)
       SELECT $1, 'lead' || i || '-' || gen_random_uuid() || '@counters.example', 'Lead' FROM generate_series(1, $3::int) i RETURNING id)
     INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status, next_email_at)
     SELECT $1, $2, l.id, 'pending', now() - interval '1 minute' FROM l RETURNING lead_id AS id`,
    [fx.a.workspaceId, fx.a.campaignId, n],
  );
  return rows.map((r) => r.id);
}

describe('send counters', () => {
  it('give the daily-limit count and the reputation a count over the ledger gives, through every transition', async () => {
    const { workspaceId: ws, campaignId, mailboxId } = fx.a;
    const since = new Date(Date.now() - 3_600_000);
    const check = async () =>
      expect(await fromCounters(fx.pool, ws, campaignId, mailboxId, since)).toEqual(await countedOverHistory(fx.pool, ws, campaignId, mailboxId, since));

    const leads = await enrolLeads(fx.pool, 30);
    const { scheduled } = await scheduleCampaignEmails(
      fx.pool,
      ws,
      campaignId,
      leads.map((leadId) => ({ leadId, stepNumber: 1, scheduledAt: new Date(), mailboxId })),
    );
    expect(scheduled).toHaveLength(30);
    await check();
    expect((await fromCounters(fx.pool, ws, campaignId, mailboxId, since)).created).toBe(31);

    // cancelled rows do not count toward the daily limit
    await cancelCampaignEmail(fx.pool, ws, scheduled[0]!.id, 'suppressed');
    await cancelLeadCampaignEmails(fx.pool, ws, campaignId, scheduled[1]!.lead_id, 'replied');
    await check();

    // sends: claim, then sent (the SES Send event's path) with the mailbox set
    for (const row of scheduled.slice(2, 22)) {
      await claimCampaignEmail(fx.pool, ws, row.id);
      await markCampaignEmailSent(fx.pool, ws, row.id, { messageId: `m-${row.id}`, sentAt: new Date(), mailboxId });
    }
    await check();
    expect((await fromCounters(fx.pool, ws, campaignId, mailboxId, since)).campaign.sent).toBe(20);

    // delivery events: bounces (the account suppression list's not counted), complaints, a late delivery
    await applyDeliveryStatus(fx.pool, ws, scheduled[2]!.id, 'delivered', new Date());
    await applyDeliveryStatus(fx.pool, ws, scheduled[3]!.id, 'bounced', new Date(), 'Permanent/General');
    await applyDeliveryStatus(fx.pool, ws, scheduled[4]!.id, 'bounced', new Date(), 'Permanent/OnAccountSuppressionList');
    await applyDeliveryStatus(fx.pool, ws, scheduled[5]!.id, 'complained', new Date());
    await applyDeliveryStatus(fx.pool, ws, scheduled[3]!.id, 'complained', new Date()); // a bounce then a complaint
    await applyDeliveryStatus(fx.pool, ws, scheduled[5]!.id, 'delivered', new Date()); // never moves back
    await check();
    expect((await fromCounters(fx.pool, ws, campaignId, mailboxId, since)).mailbox).toEqual({ sent: 20, bounced: 0, complained: 2 });
    await applyDeliveryStatus(fx.pool, ws, scheduled[6]!.id, 'bounced', new Date(), 'Permanent/General');
    await check();

    // rows removed (retention, a lead's erasure) leave the counts
    await fx.pool.query('DELETE FROM campaign_emails WHERE id = ANY($1)', [[scheduled[6]!.id, scheduled[25]!.id]]);
    await check();
    // sent rows inserted as such (an import) count too
    const [imported] = await enrolLeads(fx.pool, 1);
    await fx.pool.query(
      `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, sent_at, delivery_status, bounce_type)
       VALUES ($1, $2, $3, 1, $4, 'sent', now(), 'bounced', 'Permanent/General')`,
      [ws, campaignId, imported, mailboxId],
    );
    await check();
    expect(await fromCounters(fx.pool, ws, campaignId, mailboxId, since)).toEqual({
      created: 28, // 1 + 30 scheduled, 2 cancelled, 2 deleted, 1 imported
      mailbox: { sent: 20, bounced: 1, complained: 2 },
      campaign: { sent: 20, bounced: 1, complained: 2 },
    });
    // workspace B's counters never moved
    expect(await fromCounters(fx.pool, fx.b.workspaceId, fx.b.campaignId, fx.b.mailboxId, since)).toEqual({
      created: 1,
      mailbox: { sent: 0, bounced: 0, complained: 0 },
      campaign: { sent: 0, bounced: 0, complained: 0 },
    });
  });

  it('read the same few rows whatever the campaign has sent: no ledger row, no scheduled or waiting enrolment', async () => {
    const { workspaceId: ws, campaignId, mailboxId } = fx.a;
    const since = new Date(Date.now() - 3_600_000);
    const read = () =>
      tuplesRead(fx.pool, ['campaign_emails', 'campaign_leads', 'leads'], async (db) => {
        await countCampaignEmailsSince(db, ws, campaignId, since);
        await sendReputation(db, ws, { mailboxId }, since);
        await sendReputation(db, ws, { campaignId }, since);
        await listEnrolmentsToTick(db, ws, campaignId, new Date(), 50);
        await listUnsettledCampaignEmails(db, ws, campaignId, { claimedBefore: new Date(), limit: 500 });
      });
    const small = await read();

    // 3,000 enrolments whose step 1 is in the ledger: 2,000 sent (some bounced), 1,000 still scheduled
    const leads = await enrolLeads(fx.pool, 3000);
    await fx.pool.query(
      `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, sent_at, delivery_status, bounce_type)
       SELECT $1, $2, t.lead_id, 1, $3,
              CASE WHEN t.i <= 2000 THEN 'sent' ELSE 'scheduled' END,
              CASE WHEN t.i <= 2000 THEN now() END,
              CASE WHEN t.i <= 2000 THEN (CASE WHEN t.i % 50 = 0 THEN 'bounced' ELSE 'delivered' END) END,
              CASE WHEN t.i <= 2000 AND t.i % 50 = 0 THEN 'Permanent/General' END
       FROM unnest($4::uuid[]) WITH ORDINALITY AS t(lead_id, i)`,
      [ws, campaignId, mailboxId, leads],
    );
    // the sent ones' enrolments wait two days for step 2, as recordCampaignEmailSent leaves them
    await fx.pool.query(
      `UPDATE campaign_leads SET status = 'in_progress', current_step = 1, next_email_at = now() + interval '2 days'
       WHERE lead_id = ANY($1) AND campaign_id = $2`,
      [leads.slice(0, 2000), campaignId],
    );
    await fx.pool.query('ANALYZE campaign_emails, campaign_leads, leads');
    expect(await sendReputation(fx.pool, ws, { mailboxId }, since)).toEqual({ sent: 2000, bounced: 40, complained: 0 });
    const large = await read();

    // counted over the history, the same reads touched every one of the 3,000 rows (twice)
    expect(await listEnrolmentsToTick(fx.pool, ws, campaignId, new Date(), 50)).toEqual([]);
    for (const table of ['campaign_emails', 'campaign_leads', 'leads'] as const) {
      expect(large[table], `${table}: ${small[table]} tuples read before, ${large[table]} after`).toBeLessThanOrEqual(small[table]! + 10);
    }
  });
});
