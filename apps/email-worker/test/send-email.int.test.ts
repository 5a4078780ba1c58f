import { SendRawEmailCommand, SESClient, SESServiceException } from '@aws-sdk/client-ses';
import { PermanentJobError } from '@coldcopy/queue-core';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { sendEmailHandler } from '../src/handlers/send-email.js';
import { fakeContext } from './fixtures/fake-deps.js';
import { seedCampaign } from './fixtures/seed.js';
import { useEmailHarness } from './harness.js';

const h = useEmailHarness();

async function ledger(id: string) {
  const { rows } = await h.pool.query('SELECT status, message_id, attempt, last_error, cancelled_reason FROM campaign_emails WHERE id = $1', [id]);
  return rows[0] as { status: string; message_id: string | null; attempt: number; last_error: string | null; cancelled_reason: string | null };
}

const payload = (workspaceId: string, campaignEmailId: string) => ({
  workspaceId,
  requestedBy: 'system',
  campaignEmailId,
  trackOpens: true,
  trackClicks: true,
  checkConsent: false,
});

async function delayedJobIds(): Promise<string[]> {
  const jobs = await h.redis.zrange(`${h.prefix}:email:delayed`, 0, -1);
  return jobs;
}

describe('send-email with real Postgres, Redis and the SES client', () => {
  it('sends through aws-ses-v2-local, records sent + event + enrolment progress, and never twice', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    const { deps } = h.deps();
    const result = await sendEmailHandler(payload(seed.workspaceId, id), fakeContext(deps));
    expect(result).toMatchObject({ status: 'sent' });
    const row = await ledger(id);
    expect(row.status).toBe('sent');
    expect(row.message_id).toBe((result as { messageId: string }).messageId);

    const emails = await h.ses.emails();
    expect(emails).toHaveLength(1);
    expect(emails[0]!.subject).toBe('Step 1: hello Lead');
    expect(emails[0]!.body.text).toContain('A short note.');
    expect(emails[0]!.body.text).toContain('1 Main St, Springfield');
    expect(emails[0]!.body.html).toContain('<p>A short note.</p>');
    const raw = h.ses.rawMessages()[0]!.split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' '); // unfolded headers
    expect(raw).toMatch(/^List-Unsubscribe: <https:\/\/app\.example\.com\/u\/[^>]+>, <mailto:unsub\+[^>]+>$/m);
    expect(raw).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);

    const events = await h.pool.query("SELECT event_type, provider_message_id FROM email_events WHERE campaign_email_id = $1", [id]);
    expect(events.rows).toEqual([{ event_type: 'sent', provider_message_id: row.message_id }]);
    const enrolment = await h.pool.query('SELECT status, current_step, next_email_at FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId]);
    expect(enrolment.rows[0]).toMatchObject({ status: 'in_progress', current_step: 1 });
    expect(enrolment.rows[0].next_email_at.getTime()).toBeGreaterThan(Date.now() + 47 * 3_600_000);

    // a duplicated or retried job
    expect(await sendEmailHandler(payload(seed.workspaceId, id), fakeContext(deps))).toEqual({ status: 'skipped', reason: 'already-sent' });
    expect(await h.ses.emails()).toHaveLength(1);
  });

  it('two concurrent jobs for the same row send one email', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
    const id = seed.sendIds[0]!;
    const { deps } = h.deps();
    const results = await Promise.allSettled([1, 2, 3].map(() => sendEmailHandler(payload(seed.workspaceId, id), fakeContext(deps))));
    const statuses = results.map((r) => (r.status === 'fulfilled' ? (r.value as { status: string }).status : 'rejected'));
    expect(statuses.filter((s) => s === 'sent')).toHaveLength(1);
    expect(await h.ses.emails()).toHaveLength(1);
  });

  describe('SES error paths (aws-sdk-client-mock on the real client)', () => {
    const error = (name: string, message: string, status = 400, fault: 'client' | 'server' = 'client') =>
      new SESServiceException({ name, $fault: fault, message, $metadata: { httpStatusCode: status } });

    async function sendWith(err: Error) {
      const client = new SESClient({ region: 'us-east-1', maxAttempts: 1 });
      const mock = mockClient(client);
      mock.on(SendRawEmailCommand).rejects(err);
      const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
      const id = seed.sendIds[0]!;
      const harness = h.deps({ sesClient: client });
      const outcome = await sendEmailHandler(payload(seed.workspaceId, id), fakeContext(harness.deps)).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      const calls = mock.commandCalls(SendRawEmailCommand).length;
      mock.restore();
      return { outcome, row: await ledger(id), id, seed, ops: harness.ops, calls };
    }

    it('rate throttling → retryable, delayed follow-up job with a new id (no attempt used)', async () => {
      const { outcome, row, id } = await sendWith(error('Throttling', 'Maximum sending rate exceeded.'));
      expect(outcome).toMatchObject({ value: { status: 'deferred', reason: 'ses-throttled' } });
      expect(row.status).toBe('retryable');
      expect(await delayedJobIds()).toEqual([`send-email.${id}.t1`]);
    });

    it('daily quota → retryable, rescheduled after the quota window, alert', async () => {
      const { outcome, row, ops, id } = await sendWith(error('Throttling', 'Daily message quota exceeded.'));
      expect(outcome).toMatchObject({ value: { status: 'deferred', reason: 'ses-daily-quota' } });
      expect(row.status).toBe('retryable');
      const score = await h.redis.zscore(`${h.prefix}:email:delayed`, `send-email.${id}.q1`);
      // Bull's delayed score is (timestamp << 12): at least an hour ahead
      expect(Number(score) / 4096).toBeGreaterThan(Date.now() + 3_500_000);
      expect(ops.alerts).toHaveLength(1);
    });

    it('MessageRejected → failed with the error recorded, enrolment failed, permanent job error', async () => {
      const { outcome, row, seed } = await sendWith(error('MessageRejected', 'Email address is not verified.'));
      expect((outcome as { error: unknown }).error).toBeInstanceOf(PermanentJobError);
      expect(row.status).toBe('failed');
      expect(row.last_error).toContain('MessageRejected');
      const e = await h.pool.query('SELECT status FROM campaign_leads WHERE id = $1', [seed.leads[0]!.enrolmentId]);
      expect(e.rows[0].status).toBe('failed');
    });

    it('missing configuration set → failed (configuration bug)', async () => {
      const { row } = await sendWith(error('ConfigurationSetDoesNotExistException', 'Configuration set does not exist.'));
      expect(row.status).toBe('failed');
    });

    it('account sending paused → email queue paused, page alert, row retryable', async () => {
      const { outcome, row, ops } = await sendWith(error('AccountSendingPausedException', 'Sending paused for this account.'));
      expect(outcome).toMatchObject({ value: { status: 'deferred', reason: 'ses-account-paused' } });
      expect(ops.pauses).toHaveLength(1);
      expect(ops.alerts[0]!.severity).toBe('page');
      expect(row.status).toBe('retryable');
    });

    it('timeout after the request left → unknown, not retried', async () => {
      const timeout = Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError', code: 'ETIMEDOUT' });
      const { outcome, row, calls } = await sendWith(timeout);
      expect(outcome).toMatchObject({ value: { status: 'unknown' } });
      expect(row.status).toBe('unknown');
      expect(calls).toBe(1);
      expect(await delayedJobIds()).toEqual([]);
    });

    it('5xx → unknown', async () => {
      const { row } = await sendWith(error('InternalFailure', 'Internal error', 500, 'server'));
      expect(row.status).toBe('unknown');
    });
  });

  it('a suppressed address is skipped and recorded as suppressed', async () => {
    const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
    await h.pool.query(
      `INSERT INTO suppression_list (workspace_id, email, suppression_type, source) VALUES ($1, $2, 'bounce', 'webhook')`,
      [seed.workspaceId, seed.leads[0]!.email],
    );
    const { deps } = h.deps();
    expect(await sendEmailHandler(payload(seed.workspaceId, seed.sendIds[0]!), fakeContext(deps))).toEqual({ status: 'skipped', reason: 'suppressed' });
    const row = await ledger(seed.sendIds[0]!);
    expect(row).toMatchObject({ status: 'cancelled', cancelled_reason: 'suppressed' });
    expect(await h.ses.emails()).toHaveLength(0);
  });
});
