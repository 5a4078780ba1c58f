import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { RecordNotFoundError, TenancyError } from '../src/errors.js';
import { loadDbEnv } from '../src/env.js';
import { closePool, createPool } from '../src/pool.js';
import {
  addSuppression,
  applyDeliveryStatus,
  claimCampaignEmail,
  deferCampaignEmail,
  endEnrolment,
  findCampaignEmailByMessageId,
  findDueEnrolments,
  getCampaign,
  getCampaignEmail,
  getCampaignStep,
  getEnrolment,
  getLead,
  getMailbox,
  getWorkspace,
  insertEmailEvent,
  isEmailSuppressed,
  listCampaignMailboxes,
  listCampaignSteps,
  markCampaignEmailFailed,
  markCampaignEmailSent,
  markCampaignEmailUnknown,
  markLeadContacted,
  recordEnrolmentSend,
  recordWebhookEvent,
  scheduleCampaignEmails,
  setCampaignStatus,
} from '../src/index.js';
import { createTenant, type TenantFixture } from './fixtures.js';

/*
 * Tenancy guard: every access function, given the job's workspace A and an id that belongs to
 * workspace B, throws TenancyError and neither returns nor changes B's data. A fingerprint of all
 * of B's rows is compared before and after each call.
 */

let db: TestDatabase;
let pool: pg.Pool;
let a: TenantFixture;
let b: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '4' }));
});

afterAll(async () => {
  if (pool) await closePool(pool);
  await db?.drop();
});

beforeEach(async () => {
  a = await createTenant(pool, 'alpha');
  b = await createTenant(pool, 'bravo');
  // B's send has gone out, so there is a message id to look up and a delivery to apply
  await pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = $2, sent_at = now() WHERE id = $1`, [
    b.campaignEmailId,
    `msg-${b.campaignEmailId}`,
  ]);
});

const B_TABLES = [
  'workspaces',
  'mailboxes',
  'campaigns',
  'campaign_sequences',
  'campaign_leads',
  'campaign_emails',
  'leads',
  'suppression_list',
  'webhook_dedupe',
] as const;

/** Every row of workspace B (plus events and dedupe rows), hashed: any write shows up. */
async function fingerprintOfB(): Promise<string> {
  const parts: string[] = [];
  for (const table of B_TABLES) {
    const column = table === 'workspaces' ? 'id' : 'workspace_id';
    const { rows } = await pool.query<{ h: string | null }>(
      `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${table} t WHERE ${column} = $1`,
      [b.workspaceId],
    );
    parts.push(`${table}:${rows[0]?.h ?? ''}`);
  }
  const events = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1', [
    b.workspaceId,
  ]);
  parts.push(`events:${events.rows[0]!.n}`);
  return parts.join(';');
}

/** Calls `fn` as workspace A with B's ids and asserts TenancyError and no change to B. */
async function expectRefused(fn: () => Promise<unknown>): Promise<TenancyError> {
  const before = await fingerprintOfB();
  const error = await fn().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(TenancyError);
  expect((error as TenancyError).workspaceId).toBe(a.workspaceId);
  expect((error as TenancyError).permanent).toBe(true);
  expect(await fingerprintOfB()).toBe(before);
  return error as TenancyError;
}

describe('tenancy guard: an id of workspace B used by a job of workspace A is refused', () => {
  it('getCampaign', async () => {
    await expectRefused(() => getCampaign(pool, a.workspaceId, b.campaignId));
    expect((await getCampaign(pool, a.workspaceId, a.campaignId)).id).toBe(a.campaignId);
  });

  it('listCampaignSteps', async () => {
    await expectRefused(() => listCampaignSteps(pool, a.workspaceId, b.campaignId));
    expect((await listCampaignSteps(pool, a.workspaceId, a.campaignId)).map((s) => s.step_number)).toEqual([1, 2, 3]);
  });

  it('getCampaignStep', async () => {
    await expectRefused(() => getCampaignStep(pool, a.workspaceId, b.campaignId, 1));
    expect((await getCampaignStep(pool, a.workspaceId, a.campaignId, 2))?.subject).toBe('Step 2');
    expect(await getCampaignStep(pool, a.workspaceId, a.campaignId, 4)).toBeNull();
  });

  it('listCampaignMailboxes', async () => {
    await expectRefused(() => listCampaignMailboxes(pool, a.workspaceId, b.campaignId));
    expect((await listCampaignMailboxes(pool, a.workspaceId, a.campaignId)).map((m) => m.id)).toEqual([a.mailboxId]);
  });

  it('setCampaignStatus', async () => {
    await expectRefused(() => setCampaignStatus(pool, a.workspaceId, b.campaignId, 'paused', 'bounce rate'));
    const paused = await setCampaignStatus(pool, a.workspaceId, a.campaignId, 'paused', 'bounce rate');
    expect(paused).toMatchObject({ status: 'paused', paused_reason: 'bounce rate' });
  });

  it('getLead', async () => {
    await expectRefused(() => getLead(pool, a.workspaceId, b.leadId));
    expect((await getLead(pool, a.workspaceId, a.leadId)).email).toBe(a.leadEmail);
  });

  it('markLeadContacted', async () => {
    await expectRefused(() => markLeadContacted(pool, a.workspaceId, b.leadId));
    expect((await markLeadContacted(pool, a.workspaceId, a.leadId)).status).toBe('contacted');
  });

  it('getMailbox', async () => {
    await expectRefused(() => getMailbox(pool, a.workspaceId, b.mailboxId));
    expect((await getMailbox(pool, a.workspaceId, a.mailboxId)).id).toBe(a.mailboxId);
  });

  it('getEnrolment (foreign campaign, and foreign lead in an own campaign)', async () => {
    await expectRefused(() => getEnrolment(pool, a.workspaceId, b.campaignId, b.leadId));
    await expectRefused(() => getEnrolment(pool, a.workspaceId, a.campaignId, b.leadId));
    expect((await getEnrolment(pool, a.workspaceId, a.campaignId, a.leadId)).id).toBe(a.enrolmentId);
  });

  it('findDueEnrolments', async () => {
    await expectRefused(() => findDueEnrolments(pool, a.workspaceId, b.campaignId));
    expect((await findDueEnrolments(pool, a.workspaceId, a.campaignId)).map((e) => e.lead_id)).toEqual([a.leadId]);
  });

  it('recordEnrolmentSend', async () => {
    const progress = { stepNumber: 1, sentAt: new Date(), nextEmailAt: new Date(Date.now() + 86_400_000) };
    await expectRefused(() => recordEnrolmentSend(pool, a.workspaceId, b.enrolmentId, progress));
    expect(await recordEnrolmentSend(pool, a.workspaceId, a.enrolmentId, progress)).toMatchObject({
      status: 'in_progress',
      current_step: 1,
      email_count: 1,
    });
  });

  it('endEnrolment', async () => {
    await expectRefused(() => endEnrolment(pool, a.workspaceId, b.enrolmentId, 'replied'));
    expect((await endEnrolment(pool, a.workspaceId, a.enrolmentId, 'replied')).status).toBe('replied');
  });

  it('scheduleCampaignEmails (foreign campaign, foreign lead, foreign mailbox)', async () => {
    const at = new Date();
    await expectRefused(() => scheduleCampaignEmails(pool, a.workspaceId, b.campaignId, [{ leadId: b.leadId, stepNumber: 2, scheduledAt: at }]));
    await expectRefused(() => scheduleCampaignEmails(pool, a.workspaceId, a.campaignId, [{ leadId: b.leadId, stepNumber: 2, scheduledAt: at }]));
    await expectRefused(() =>
      scheduleCampaignEmails(pool, a.workspaceId, a.campaignId, [{ leadId: a.leadId, stepNumber: 2, scheduledAt: at, mailboxId: b.mailboxId }]),
    );
    const result = await scheduleCampaignEmails(pool, a.workspaceId, a.campaignId, [
      { leadId: a.leadId, stepNumber: 1, scheduledAt: at },
      { leadId: a.leadId, stepNumber: 2, scheduledAt: at, mailboxId: a.mailboxId },
    ]);
    expect(result.alreadyScheduled).toBe(1);
    expect(result.scheduled.map((r) => r.step_number)).toEqual([2]);
  });

  it('getCampaignEmail', async () => {
    await expectRefused(() => getCampaignEmail(pool, a.workspaceId, b.campaignEmailId));
    expect((await getCampaignEmail(pool, a.workspaceId, a.campaignEmailId)).id).toBe(a.campaignEmailId);
  });

  it('findCampaignEmailByMessageId', async () => {
    await expectRefused(() => findCampaignEmailByMessageId(pool, a.workspaceId, `msg-${b.campaignEmailId}`));
    expect(await findCampaignEmailByMessageId(pool, a.workspaceId, 'msg-nobody')).toBeNull();
  });

  it('claimCampaignEmail', async () => {
    // make B's row claimable, so a missing workspace filter would visibly win the claim
    await pool.query(`UPDATE campaign_emails SET status = 'scheduled' WHERE id = $1`, [b.campaignEmailId]);
    await expectRefused(() => claimCampaignEmail(pool, a.workspaceId, b.campaignEmailId));
    const claim = await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect(claim.claimed).toBe(true);
  });

  it('markCampaignEmailSent', async () => {
    await pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [b.campaignEmailId]);
    await expectRefused(() => markCampaignEmailSent(pool, a.workspaceId, b.campaignEmailId, { messageId: 'm-1' }));
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    await expectRefused(() => markCampaignEmailSent(pool, a.workspaceId, a.campaignEmailId, { messageId: 'm-1', mailboxId: b.mailboxId }));
    expect((await markCampaignEmailSent(pool, a.workspaceId, a.campaignEmailId, { messageId: 'm-1' })).status).toBe('sent');
  });

  it('markCampaignEmailUnknown', async () => {
    await pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [b.campaignEmailId]);
    await expectRefused(() => markCampaignEmailUnknown(pool, a.workspaceId, b.campaignEmailId, 'socket hang up'));
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect((await markCampaignEmailUnknown(pool, a.workspaceId, a.campaignEmailId, 'socket hang up')).status).toBe('unknown');
  });

  it('markCampaignEmailFailed', async () => {
    await pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [b.campaignEmailId]);
    await expectRefused(() => markCampaignEmailFailed(pool, a.workspaceId, b.campaignEmailId, { error: 'rejected', retryable: false }));
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect((await markCampaignEmailFailed(pool, a.workspaceId, a.campaignEmailId, { error: 'throttled', retryable: true })).status).toBe(
      'retryable',
    );
  });

  it('deferCampaignEmail', async () => {
    await pool.query(`UPDATE campaign_emails SET status = 'sending' WHERE id = $1`, [b.campaignEmailId]);
    const until = new Date(Date.now() + 3_600_000);
    await expectRefused(() => deferCampaignEmail(pool, a.workspaceId, b.campaignEmailId, until, 'daily cap'));
    await claimCampaignEmail(pool, a.workspaceId, a.campaignEmailId);
    expect((await deferCampaignEmail(pool, a.workspaceId, a.campaignEmailId, until, 'daily cap')).status).toBe('scheduled');
  });

  it('applyDeliveryStatus', async () => {
    await expectRefused(() => applyDeliveryStatus(pool, a.workspaceId, b.campaignEmailId, 'bounced', new Date(), 'Permanent'));
    expect((await applyDeliveryStatus(pool, a.workspaceId, a.campaignEmailId, 'delivered', new Date())).applied).toBe(true);
  });

  it('insertEmailEvent (foreign send, campaign or lead)', async () => {
    await expectRefused(() => insertEmailEvent(pool, a.workspaceId, { eventType: 'opened', campaignEmailId: b.campaignEmailId }));
    await expectRefused(() => insertEmailEvent(pool, a.workspaceId, { eventType: 'opened', campaignId: b.campaignId }));
    await expectRefused(() => insertEmailEvent(pool, a.workspaceId, { eventType: 'opened', leadId: b.leadId }));
    // own send with B's lead attached
    await expectRefused(() =>
      insertEmailEvent(pool, a.workspaceId, { eventType: 'opened', campaignEmailId: a.campaignEmailId, leadId: b.leadId }),
    );
    const event = await insertEmailEvent(pool, a.workspaceId, { eventType: 'opened', campaignEmailId: a.campaignEmailId });
    expect(event).toMatchObject({ workspace_id: a.workspaceId, campaign_id: a.campaignId, lead_id: a.leadId });
  });

  it('addSuppression (foreign campaign) and isEmailSuppressed (scoped to the workspace)', async () => {
    await expectRefused(() =>
      addSuppression(pool, a.workspaceId, { email: b.leadEmail, type: 'unsubscribe', source: 'link', campaignId: b.campaignId }),
    );
    await addSuppression(pool, b.workspaceId, { email: b.leadEmail, type: 'unsubscribe', source: 'link' });
    // B's suppression is B's: A may still mail the address, B may not
    expect(await isEmailSuppressed(pool, a.workspaceId, b.leadEmail)).toBe(false);
    expect(await isEmailSuppressed(pool, b.workspaceId, ` ${b.leadEmail.toUpperCase()} `)).toBe(true);
    // a global row applies to everyone
    await pool.query(`INSERT INTO suppression_list (workspace_id, email, suppression_type, is_global) VALUES (NULL, 'g@x.example', 'complaint', true)`);
    expect(await isEmailSuppressed(pool, a.workspaceId, 'g@x.example')).toBe(true);
  });

  it('recordWebhookEvent', async () => {
    expect(await recordWebhookEvent(pool, b.workspaceId, 'ses', `evt-${b.workspaceId}`)).toBe('new');
    await expectRefused(() => recordWebhookEvent(pool, a.workspaceId, 'ses', `evt-${b.workspaceId}`));
    expect(await recordWebhookEvent(pool, b.workspaceId, 'ses', `evt-${b.workspaceId}`)).toBe('duplicate');
  });

  it('getWorkspace reads only the job workspace', async () => {
    expect((await getWorkspace(pool, a.workspaceId)).id).toBe(a.workspaceId);
    await expect(getWorkspace(pool, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(RecordNotFoundError);
    await expect(getWorkspace(pool, 'not-a-uuid')).rejects.toBeInstanceOf(TypeError);
  });

  it('tells a missing id (RecordNotFoundError) from a foreign one', async () => {
    await expect(getLead(pool, a.workspaceId, '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(RecordNotFoundError);
    await expect(getLead(pool, a.workspaceId, 'nope')).rejects.toBeInstanceOf(RecordNotFoundError);
  });

  it('the database itself refuses a send row that mixes workspaces (composite foreign keys)', async () => {
    await expect(
      pool.query(
        `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number) VALUES ($1, $2, $3, 2)`,
        [a.workspaceId, a.campaignId, b.leadId],
      ),
    ).rejects.toThrow(/foreign key/);
  });
});
