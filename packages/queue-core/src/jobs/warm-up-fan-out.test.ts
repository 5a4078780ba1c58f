import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { jobInputJsonSchema } from '../definitions/define-job.js';
import { JobValidationError } from '../definitions/errors.js';
import { jobIdFor, keyFromParts } from '../definitions/job-options.js';
import { JobSecurity } from '../security/job-security.js';
import { Producer } from '../producer/producer.js';
import { desiredSchedule } from '../runtime/schedule-reconciler.js';
import { warmEmail, warmEmailForm, warmupBatchOf } from './email.jobs.js';
import { SCHEDULES } from './schedules.js';

const WS = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const ID = (n: number) => `00000000-0000-4000-8000-00000000000${n}`;
const MAILBOX_JOB = { workspaceId: WS, warmupCampaignId: ID(1), senderAccountId: ID(2), recipientAccountId: ID(3), dayNumber: 2, date: '2026-12-01', seq: 4 };
const security = new JobSecurity({ signing: 'disabled' });
// validate() never touches Redis: no connection is opened
const producer = new Producer({ redisUrl: 'redis://127.0.0.1:1', security, shards: {} });
afterAll(() => producer.close());

function rejection(data: unknown): string[] {
  try {
    producer.validate(warmEmail, data);
  } catch (err) {
    expect(err).toBeInstanceOf(JobValidationError);
    return (err as JobValidationError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe('warm-email: the per-mailbox and fan-out forms', () => {
  it('accepts the three forms and tells them apart', () => {
    expect(warmEmailForm(producer.validate(warmEmail, MAILBOX_JOB) as never)).toEqual({ kind: 'mailbox', ...MAILBOX_JOB });
    expect(warmEmailForm(producer.validate(warmEmail, { fanOut: true, requestedBy: 'system' }) as never)).toEqual({ kind: 'fan-out', requestedBy: 'system' });
    expect(warmEmailForm(producer.validate(warmEmail, { fanOut: true, slot: '20261201T0800Z' }) as never)).toEqual({ kind: 'fan-out', slot: '20261201T0800Z' });
    expect(warmEmailForm(producer.validate(warmEmail, { fanOut: true, advanceDay: true }) as never)).toEqual({ kind: 'advance-day' });
    expect(() => warmEmailForm({ seq: 1 })).toThrow(TypeError);
  });

  it('names what is missing or not allowed, as JobValidationError', () => {
    expect(rejection({})).toEqual([
      'workspaceId: required',
      'warmupCampaignId: required',
      'senderAccountId: required',
      'recipientAccountId: required',
      'dayNumber: required',
      'date: required',
      'seq: required',
    ]);
    const { workspaceId: _ws, ...withoutWs } = MAILBOX_JOB;
    expect(rejection(withoutWs)).toEqual(['workspaceId: required']);
    expect(rejection({ ...MAILBOX_JOB, seq: '4' })[0]).toMatch(/^seq: .*number/);
    expect(rejection({ fanOut: true, workspaceId: WS })[0]).toMatch(/^workspaceId: not allowed with fanOut: true/);
    expect(rejection({ fanOut: true, seq: 0, date: '2026-12-01' })).toHaveLength(2);
    expect(rejection({ ...MAILBOX_JOB, advanceDay: true })).toEqual(['advanceDay: only allowed with fanOut: true']);
    expect(rejection({ ...MAILBOX_JOB, slot: '20261201T0800Z' })).toEqual(['slot: only allowed with fanOut: true']);
    expect(rejection({ fanOut: false })[0]).toMatch(/^fanOut: /);
    expect(rejection({ fanOut: true, advanceDay: false })[0]).toMatch(/^advanceDay: /);
    expect(rejection({ fanOut: true, slot: '2026-12-01T08:00Z' })[0]).toMatch(/^slot: /);
    expect(rejection({ fanOut: true, batch: 1 })).toEqual(['(root): unknown field(s): batch']);
    // the worker schema applies the same check (and strips unknown keys)
    expect(warmEmail.schema.safeParse({ fanOut: true, extra: 1 }).data).toEqual({ fanOut: true });
    expect(warmEmail.schema.safeParse({ fanOut: true, workspaceId: WS }).success).toBe(false);
    expect(warmEmail.schema.safeParse({ warmupCampaignId: ID(1) }).success).toBe(false);
  });

  it('keys a per-mailbox job warm:{campaign}:{sender}:{date}:{seq} and a fan-out by its mode and slot', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const idOf = (data: unknown) => jobIdFor(warmEmail, keyFromParts(warmEmail.idempotencyKey!(warmEmail.schema.parse(data))), sha);
    expect(idOf(MAILBOX_JOB)).toBe(`warm-email.${ID(1)}.${ID(2)}.2026-12-01.4`);
    expect(idOf({ fanOut: true, slot: '20261201T0800Z' })).toBe('warm-email.fan-out.20261201T0800Z');
    expect(idOf({ fanOut: true, advanceDay: true, slot: '20261201T0000Z' })).toBe('warm-email.advance-day.20261201T0000Z');
    expect(idOf({ fanOut: true })).toBe('warm-email.fan-out.unslotted');
  });

  it('exports a JSON Schema that states the forms', () => {
    const schema = jobInputJsonSchema(warmEmail);
    expect(schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['warmupCampaignId'] }, { required: ['fanOut'] }],
      dependentRequired: { warmupCampaignId: expect.arrayContaining(['workspaceId', 'seq']), advanceDay: ['fanOut'], slot: ['fanOut'] },
    });
    expect(Object.keys(schema.properties as object)).toEqual(expect.arrayContaining(['fanOut', 'slot', 'advanceDay', 'seq']));
    expect(() => JSON.stringify(schema)).not.toThrow();
  });
});

describe('warm-up batches and schedules', () => {
  it('floors a time to the day’s batch (08, 12, 16, 20 UTC; earlier counts as the first)', () => {
    expect(warmupBatchOf(Date.parse('2026-12-01T08:00:00Z'))).toEqual({ date: '2026-12-01', batch: 0, slot: '20261201T0800Z' });
    expect(warmupBatchOf(new Date('2026-12-01T11:59:59Z'))).toMatchObject({ batch: 0 });
    expect(warmupBatchOf('20261201T1200Z')).toEqual({ date: '2026-12-01', batch: 1, slot: '20261201T1200Z' });
    expect(warmupBatchOf('20261201T2359Z')).toMatchObject({ batch: 3, slot: '20261201T2000Z' });
    expect(warmupBatchOf('20261201T0000Z')).toMatchObject({ date: '2026-12-01', batch: 0, slot: '20261201T0800Z' });
    expect(() => warmupBatchOf('2026-12-01')).toThrow(RangeError);
    expect(() => warmupBatchOf(Number.NaN)).toThrow(RangeError);
  });

  it('declares warm-up-sends (08, 12, 16, 20) and warm-up-day-advance (00:00), UTC, fan-out forms, no tenant', () => {
    const sends = SCHEDULES.find((s) => s.key === 'warm-up-sends')!;
    const advance = SCHEDULES.find((s) => s.key === 'warm-up-day-advance')!;
    expect(sends).toMatchObject({ job: warmEmail, cron: '0 8,12,16,20 * * *', tz: 'UTC', data: { fanOut: true, requestedBy: 'system' } });
    expect(advance).toMatchObject({ job: warmEmail, cron: '0 0 * * *', tz: 'UTC', data: { fanOut: true, advanceDay: true, requestedBy: 'system' } });
    expect(desiredSchedule(sends, security).data).toEqual({ fanOut: true, requestedBy: 'system' });
    expect(desiredSchedule(advance, security).opts.repeat).toEqual({ cron: '0 0 * * *', tz: 'UTC' });
  });
});
