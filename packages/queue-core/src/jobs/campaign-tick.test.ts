import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { jobInputJsonSchema } from '../definitions/define-job.js';
import { JobValidationError } from '../definitions/errors.js';
import { jobIdFor, keyFromParts } from '../definitions/job-options.js';
import { JobSecurity } from '../security/job-security.js';
import { Producer } from '../producer/producer.js';
import { desiredSchedule } from '../runtime/schedule-reconciler.js';
import { campaignTickForm, campaignTickSlot, sendBulkEmail, slotStartOf } from './email.jobs.js';
import { SCHEDULES, schedulesOn } from './schedules.js';

const WS = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const CAMPAIGN = '00000000-0000-4000-8000-000000000002';
const security = new JobSecurity({ signing: 'disabled' });
// validate() never touches Redis: no connection is opened
const producer = new Producer({ redisUrl: 'redis://127.0.0.1:1', security, shards: {} });
afterAll(() => producer.close());

/** The producer's error for `data`, as `path: message` lines. */
function rejection(data: unknown): string[] {
  try {
    producer.validate(sendBulkEmail, data);
  } catch (err) {
    expect(err).toBeInstanceOf(JobValidationError);
    return (err as JobValidationError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error(`accepted ${JSON.stringify(data)}`);
}

describe('send-bulk-email: the per-campaign and fan-out forms', () => {
  it('accepts both forms, with defaults, and tells them apart', () => {
    const tick = producer.validate(sendBulkEmail, { workspaceId: WS, campaignId: CAMPAIGN, windowSlot: '20261201T1500Z' });
    expect(campaignTickForm(tick as never)).toEqual({ kind: 'campaign', workspaceId: WS, campaignId: CAMPAIGN, windowSlot: '20261201T1500Z', batchSize: 50 });
    const fanOut = producer.validate(sendBulkEmail, { fanOut: true, requestedBy: 'system' });
    expect(campaignTickForm(fanOut as never)).toEqual({ kind: 'fan-out', batchSize: 50, requestedBy: 'system' });
    expect(campaignTickForm(producer.validate(sendBulkEmail, { fanOut: true, windowSlot: '20261201T1505Z', batchSize: 200 }) as never)).toMatchObject({
      kind: 'fan-out',
      windowSlot: '20261201T1505Z',
      batchSize: 200,
    });
    expect(() => campaignTickForm({ batchSize: 50 })).toThrow(TypeError);
  });

  it('names what is missing or not allowed, as JobValidationError', () => {
    expect(rejection({})).toEqual(['workspaceId: required', 'campaignId: required', 'windowSlot: required']);
    expect(rejection({ workspaceId: WS, windowSlot: '20261201T1500Z' })).toEqual(['campaignId: required']);
    expect(rejection({ campaignId: CAMPAIGN, windowSlot: '20261201T1500Z' })).toEqual(['workspaceId: required']);
    expect(rejection({ workspaceId: WS, campaignId: CAMPAIGN })).toEqual(['windowSlot: required']);
    expect(rejection({ fanOut: true, workspaceId: WS })[0]).toMatch(/^workspaceId: not allowed with fanOut: true/);
    expect(rejection({ fanOut: true, campaignId: CAMPAIGN, workspaceId: WS, windowSlot: '20261201T1500Z' })).toHaveLength(2);
    expect(rejection({ fanOut: false })[0]).toMatch(/^fanOut: /);
    expect(rejection({ fanOut: true, windowSlot: '2026-12-01T15:00Z' })[0]).toMatch(/^windowSlot: /);
    expect(rejection({ fanOut: true, workspaceID: WS })).toEqual(['(root): unknown field(s): workspaceID']);
  });

  it('applies the same check in the worker schema, which strips unknown keys', () => {
    expect(sendBulkEmail.schema.safeParse({ fanOut: true, extra: 1 }).data).toEqual({ fanOut: true, batchSize: 50 });
    expect(sendBulkEmail.schema.safeParse({ campaignId: CAMPAIGN, windowSlot: '20261201T1500Z' }).success).toBe(false);
    expect(sendBulkEmail.schema.safeParse({ fanOut: true, workspaceId: WS }).success).toBe(false);
  });

  it('keys a per-campaign tick bulk:{campaignId}:{windowSlot} and a fan-out by its slot', () => {
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    const idOf = (data: unknown) => jobIdFor(sendBulkEmail, keyFromParts(sendBulkEmail.idempotencyKey!(sendBulkEmail.schema.parse(data))), sha);
    expect(idOf({ workspaceId: WS, campaignId: CAMPAIGN, windowSlot: '20261201T1500Z', batchSize: 10 })).toBe(`send-bulk-email.${CAMPAIGN}.20261201T1500Z`);
    expect(idOf({ fanOut: true, windowSlot: '20261201T1500Z' })).toBe('send-bulk-email.fan-out.20261201T1500Z');
    expect(idOf({ fanOut: true })).toBe('send-bulk-email.fan-out.unslotted');
  });

  it('exports a JSON Schema that states both forms', () => {
    const schema = jobInputJsonSchema(sendBulkEmail);
    expect(schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      anyOf: [{ required: ['campaignId'] }, { required: ['fanOut'] }],
      dependentRequired: { campaignId: ['workspaceId', 'windowSlot'], workspaceId: ['campaignId'] },
      dependentSchemas: { fanOut: { not: { anyOf: [{ required: ['workspaceId'] }, { required: ['campaignId'] }] } } },
    });
    expect(Object.keys(schema.properties as object)).toEqual(['requestedBy', 'traceId', 'workspaceId', 'campaignId', 'windowSlot', 'batchSize', 'fanOut']);
    expect(() => JSON.stringify(schema)).not.toThrow();
  });
});

describe('campaign tick slots and schedule', () => {
  it('floors times to the 5-minute slot and reads slots back', () => {
    expect(campaignTickSlot(new Date('2026-12-01T15:04:59.999Z'))).toBe('20261201T1500Z');
    expect(campaignTickSlot(Date.parse('2026-12-01T15:05:00Z'))).toBe('20261201T1505Z');
    expect(campaignTickSlot(Date.parse('2026-12-31T23:59:59Z'))).toBe('20261231T2355Z');
    expect(slotStartOf('20261201T1505Z')).toEqual(new Date('2026-12-01T15:05:00Z'));
    expect(() => slotStartOf('2026-12-01')).toThrow(RangeError);
    expect(() => campaignTickSlot(Number.NaN)).toThrow(RangeError);
  });

  it('declares campaign-tick on the email queue: every 5 minutes, UTC, the fan-out form, no tenant', () => {
    const ticks = schedulesOn('email').filter((s) => s.job === sendBulkEmail);
    expect(ticks).toHaveLength(1);
    const [tick] = ticks;
    expect(tick).toMatchObject({ key: 'campaign-tick', cron: '*/5 * * * *', tz: 'UTC', data: { fanOut: true, requestedBy: 'system' } });
    expect(tick!.job).toBe(sendBulkEmail);
    expect(SCHEDULES.filter((s) => s.key === 'campaign-tick')).toHaveLength(1);
    const desired = desiredSchedule(tick!, security);
    expect(desired.name).toBe('send-bulk-email');
    expect(desired.data).toEqual({ fanOut: true, requestedBy: 'system', batchSize: 50 });
    expect(desired.opts.repeat).toEqual({ cron: '*/5 * * * *', tz: 'UTC' });
    // a schedule's data is static, so no schedule may carry a tenant
    for (const s of SCHEDULES) expect(s.data, s.key).not.toHaveProperty('workspaceId');
  });
});
