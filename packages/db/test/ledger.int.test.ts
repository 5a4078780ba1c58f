import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { LedgerStateError } from '../src/errors.js';
import {
  applyDeliveryStatus,
  claimCampaignEmail,
  deferCampaignEmail,
  findDueEnrolments,
  getCampaignEmail,
  markCampaignEmailFailed,
  markCampaignEmailSent,
  markCampaignEmailUnknown,
  scheduleCampaignEmails,
} from '../src/index.js';
import { addSuppression } from '../src/repositories/suppression.js';
import { loadDbEnv } from '../src/env.js';
import { closePool, createPool } from '../src/pool.js';
import { createTenant, type TenantFixture } from './fixtures.js';

let db: TestDatabase;
let pool: pg.Pool;
let t: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  // with its 'error' listener: a connection that the database drop terminates must not crash the run
  pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '10' }));
});

afterAll(async () => {
  if (pool) await closePool(pool);
  await db?.drop();
});

beforeEach(async () => {
  t = await createTenant(pool, 'ledger');
});

describe('send ledger', () => {
  it('lets exactly one of many concurrent claims win', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId)));
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    expect(results.filter((r) => !r.claimed).every((r) => !r.claimed && r.status === 'sending')).toBe(true);
    const row = await getCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    expect(row).toMatchObject({ status: 'sending', attempt: 1 });
    expect(row.claimed_at).toBeInstanceOf(Date);
  });

  it('walks scheduled → sending → sent, and a repeated sent write is a no-op', async () => {
    await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    const sent = await markCampaignEmailSent(pool, t.workspaceId, t.campaignEmailId, { messageId: 'ses-1', subject: 'Hello' });
    expect(sent).toMatchObject({ status: 'sent', message_id: 'ses-1', subject: 'Hello' });
    const again = await markCampaignEmailSent(pool, t.workspaceId, t.campaignEmailId, { messageId: 'ses-1' });
    expect(again.updated_at).toEqual(sent.updated_at);
    // a sent row cannot be claimed again, nor marked sent with another message id
    expect(await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId)).toEqual({ claimed: false, status: 'sent' });
    await expect(markCampaignEmailSent(pool, t.workspaceId, t.campaignEmailId, { messageId: 'ses-2' })).rejects.toBeInstanceOf(LedgerStateError);
  });

  it('never resends an ambiguous outcome: unknown cannot be claimed, the SES event moves it to sent', async () => {
    await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    await markCampaignEmailUnknown(pool, t.workspaceId, t.campaignEmailId, 'socket hang up');
    expect(await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId)).toEqual({ claimed: false, status: 'unknown' });
    expect((await markCampaignEmailSent(pool, t.workspaceId, t.campaignEmailId, { messageId: 'ses-late' })).status).toBe('sent');
  });

  it('retryable rows can be claimed again, failed rows cannot; a deferred row goes back to scheduled', async () => {
    await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    await markCampaignEmailFailed(pool, t.workspaceId, t.campaignEmailId, { error: 'Throttling', retryable: true });
    const second = await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    expect(second.claimed && second.email.attempt).toBe(2);
    const until = new Date(Date.now() + 3_600_000);
    const deferred = await deferCampaignEmail(pool, t.workspaceId, t.campaignEmailId, until, 'mailbox cap');
    expect(deferred).toMatchObject({ status: 'scheduled', claimed_at: null, last_error: 'mailbox cap' });
    expect(deferred.scheduled_at.getTime()).toBe(until.getTime());
    await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId);
    await markCampaignEmailFailed(pool, t.workspaceId, t.campaignEmailId, { error: 'MessageRejected', retryable: false });
    expect(await claimCampaignEmail(pool, t.workspaceId, t.campaignEmailId)).toEqual({ claimed: false, status: 'failed' });
    // marking outside a claim is a state error, not a silent write
    await expect(markCampaignEmailUnknown(pool, t.workspaceId, t.campaignEmailId, 'x')).rejects.toBeInstanceOf(LedgerStateError);
  });

  it('keeps delivery status monotonic: a late delivered never overwrites a bounce', async () => {
    const at = new Date();
    expect((await applyDeliveryStatus(pool, t.workspaceId, t.campaignEmailId, 'delivered', at)).applied).toBe(true);
    const bounced = await applyDeliveryStatus(pool, t.workspaceId, t.campaignEmailId, 'bounced', at, 'Permanent');
    expect(bounced).toMatchObject({ applied: true, email: { delivery_status: 'bounced', bounce_type: 'Permanent' } });
    const late = await applyDeliveryStatus(pool, t.workspaceId, t.campaignEmailId, 'delivered', at);
    expect(late).toMatchObject({ applied: false, email: { delivery_status: 'bounced' } });
    expect((await applyDeliveryStatus(pool, t.workspaceId, t.campaignEmailId, 'complained', at)).email.delivery_status).toBe('complained');
  });

  it('schedules idempotently on the claim key', async () => {
    const rows = [2, 3].map((stepNumber) => ({ leadId: t.leadId, stepNumber, scheduledAt: new Date() }));
    const first = await scheduleCampaignEmails(pool, t.workspaceId, t.campaignId, rows);
    const second = await scheduleCampaignEmails(pool, t.workspaceId, t.campaignId, rows);
    expect(first).toMatchObject({ alreadyScheduled: 0 });
    expect(first.scheduled).toHaveLength(2);
    expect(second).toEqual({ scheduled: [], alreadyScheduled: 2 });
  });

  it('leaves suppressed leads out of the due enrolments', async () => {
    expect(await findDueEnrolments(pool, t.workspaceId, t.campaignId)).toHaveLength(1);
    await addSuppression(pool, t.workspaceId, { email: t.leadEmail, type: 'bounce', source: 'webhook' });
    expect(await findDueEnrolments(pool, t.workspaceId, t.campaignId)).toEqual([]);
  });
});
