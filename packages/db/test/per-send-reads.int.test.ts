import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  claimCampaignEmailUnlessSuppressed,
  countCampaignEmailsSince,
  getCampaign,
  listCampaignMailboxes,
  listDueCampaignEmails,
  listEnrolmentsToTick,
  listUnsettledCampaignEmails,
  loadSendRows,
  markCampaignEmailsEnqueued,
  recordCampaignEmailSent,
  scheduleCampaignEmails,
} from '../src/index.js';
import { useTwoTenants } from './fixtures.js';
import { tuplesRead } from './tuples-read.js';

/*
 * What a campaign costs Postgres per send does not grow with the campaign (issue 20): one tick of
 * the campaign (the statements the email worker's send-bulk-email runs, in its order) and the sends
 * it schedules (load, claim, record) read about the same tuples of each table with a campaign of
 * N and of 5N leads. Counts of tuples read (sequential and index fetches, this transaction's
 * pg_stat_xact_user_tables), never times: a statement that scans a table that grows with the
 * campaign (a sequential scan where a lookup by id belongs) reads 5 times as many at 5N.
 */

const fx = useTwoTenants();

const BATCH = 100;
const TABLES = ['leads', 'campaign_leads', 'campaign_emails', 'email_events'] as const;

/**
 * `n` more leads enrolled in tenant A's campaign, as a campaign part-way through its first step:
 * half sent step 1 (ledger row `sent`, enrolment in progress, step 2 due in two days), a quarter
 * scheduled and enqueued (a job waiting for each: the backlog a tick schedules ahead of sending),
 * a quarter due now with no ledger row.
 */
async function grow(db: pg.Pool, n: number): Promise<void> {
  const { workspaceId, campaignId, mailboxId } = fx.a;
  await db.query(
    `WITH l AS (
       INSERT INTO leads (workspace_id, email, first_name)
       SELECT $1, 'reads' || i || '-' || gen_random_uuid() || '@reads.example', 'Lead' FROM generate_series(1, $3::int) i RETURNING id),
     e AS (
       INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status, next_email_at)
       SELECT $1, $2, l.id, 'pending', now() - interval '1 minute' FROM l RETURNING id, lead_id),
     ledger AS (SELECT e.*, row_number() OVER (ORDER BY e.id) AS k FROM e ORDER BY e.id LIMIT $3::int * 3 / 4)
     INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, scheduled_at, enqueued_at, sent_at, message_id)
     SELECT $1::uuid, $2::uuid, ledger.lead_id, 1, $4::uuid, 'sent', now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour', 'reads-' || ledger.id
     FROM ledger WHERE ledger.k <= $3::int / 2
     UNION ALL
     SELECT $1::uuid, $2::uuid, ledger.lead_id, 1, $4::uuid, 'scheduled', now() - interval '1 minute', now() - interval '1 minute', NULL::timestamptz, NULL::text
     FROM ledger WHERE ledger.k > $3::int / 2`,
    [workspaceId, campaignId, n, mailboxId],
  );
  await db.query(
    `UPDATE campaign_leads cl SET status = 'in_progress', current_step = 1, email_count = 1, next_email_at = now() + interval '2 days'
     FROM campaign_emails ce WHERE ce.campaign_id = $1 AND ce.lead_id = cl.lead_id AND cl.campaign_id = $1 AND ce.status = 'sent'`,
    [campaignId],
  );
  await db.query('ANALYZE leads, campaign_leads, campaign_emails');
}

/** One tick of BATCH enrolments and its BATCH sends, in send-bulk-email's and send-email's order. */
async function tickAndSend(db: pg.PoolClient): Promise<number> {
  const { workspaceId: ws, campaignId } = fx.a;
  const now = new Date();
  await listUnsettledCampaignEmails(db, ws, campaignId, { claimedBefore: new Date(now.getTime() - 120_000), limit: 500 });
  await listUnsettledCampaignEmails(db, ws, campaignId, { claimedBefore: new Date(now.getTime() - 900_000), limit: 500 });
  await getCampaign(db, ws, campaignId);
  const due = await listEnrolmentsToTick(db, ws, campaignId, now, BATCH + 1);
  const mailboxes = await listCampaignMailboxes(db, ws, campaignId);
  await countCampaignEmailsSince(db, ws, campaignId, new Date(now.getTime() - 86_400_000));
  await scheduleCampaignEmails(
    db,
    ws,
    campaignId,
    due.slice(0, BATCH).map((e) => ({ leadId: e.lead_id, stepNumber: e.next_step, mailboxId: mailboxes[0]!.id, scheduledAt: now })),
  );
  const sends = await listDueCampaignEmails(db, ws, campaignId, { before: now, limit: BATCH * 4, enqueuedBefore: new Date(now.getTime() - 600_000) });
  await markCampaignEmailsEnqueued(
    db,
    ws,
    campaignId,
    sends.map((s) => s.id),
    now,
  );
  let sent = 0;
  for (const { id } of sends) {
    const send = await loadSendRows(db, ws, id);
    const claim = await claimCampaignEmailUnlessSuppressed(db, ws, id, send.lead.email);
    if (!claim.claimed) continue;
    await recordCampaignEmailSent(db, ws, {
      campaignEmailId: id,
      messageId: `reads-${id}`,
      sentAt: new Date(),
      mailboxId: send.mailbox!.id,
      fromEmail: send.mailbox!.email,
      subject: 'Hello',
      contentHtml: '<p>Hello</p>',
      contentText: 'Hello',
      enrolmentId: send.enrolment.id,
      leadId: send.lead.id,
      nextEmailAt: new Date(now.getTime() + 2 * 86_400_000),
      claim: claim.email.attempt,
    });
    sent++;
  }
  return sent;
}

describe('per-send reads against campaign size', () => {
  it('a tick and its sends read about the same tuples of each table with 2,000 and with 10,000 leads', async () => {
    const measure = async () => {
      let sent = 0;
      const counts = await tuplesRead(fx.pool, TABLES, async (db) => {
        sent = await tickAndSend(db);
      });
      // the tick scheduled a full batch (plus the fixture's own scheduled row) and sent every one
      expect(sent).toBe(BATCH + 1);
      return counts;
    };
    await grow(fx.pool, 2_000);
    const small = await measure();
    await grow(fx.pool, 8_000);
    const large = await measure();
    for (const table of TABLES) {
      expect(large[table], `${table}: ${small[table]} tuples read at 2,000 leads, ${large[table]} at 10,000`).toBeLessThanOrEqual(small[table]! * 1.2 + 10);
    }
  });
});
