import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type AnyJobDefinition, type JobInput, jobInputJsonSchema } from '../definitions/define-job.js';
import { QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { allJobs, type CatalogJob, getJob, jobByName, type JobName, jobsOnQueue } from './index.js';

const EXPECTED: Record<QueueName, readonly string[]> = {
  email: ['send-email', 'send-bulk-email', 'process-webhook', 'warm-email'],
  enrichment: ['enrich-lead', 'batch-enrich', 'verify-email', 'company-enrich'],
  ai: ['generate-email-content', 'analyze-sentiment', 'generate-smart-reply', 'extract-meeting-intent'],
  analytics: ['calculate-campaign-stats', 'refresh-analytics', 'generate-report', 'export-data'],
  integration: ['sync-hubspot', 'sync-salesforce', 'sync-linkedin', 'sync-calendar'],
  maintenance: ['cleanup-old-data', 'optimize-images', 'backup-data', 'cache-warming'],
};
const GLOBAL_JOBS = ['process-webhook', 'refresh-analytics', 'cleanup-old-data', 'backup-data', 'cache-warming'];

const WS = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

const snsBody = JSON.stringify({
  Type: 'Notification',
  MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
  TopicArn: 'arn:aws:sns:eu-west-1:123456789012:coldcopy-ses-events',
  Message: JSON.stringify({ eventType: 'Delivery', mail: { messageId: '0102018f-abc' } }),
  Timestamp: '2025-07-09T14:31:07.123Z',
  SignatureVersion: '2',
  Signature: 'EXAMPLE==',
  SigningCertURL: 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem',
});

/** A realistic valid producer input for every job; typed, so a sample that drifts fails to compile. */
const samples: { [N in JobName]: JobInput<Extract<CatalogJob, { name: N }>> } = {
  'send-email': {
    workspaceId: WS,
    campaignEmailId: id(1),
    requestedBy: 'system',
    traceId: 'tick-20250709T1430Z',
  },
  'send-bulk-email': { workspaceId: WS, campaignId: id(2), windowSlot: '20250709T1430Z', batchSize: 100 },
  'process-webhook': {
    provider: 'ses',
    body: snsBody,
    receivedAt: '2025-07-09T14:31:08.001Z',
    headers: {
      'x-amz-sns-message-type': 'Notification',
      'x-amz-sns-message-id': '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    },
  },
  'warm-email': {
    workspaceId: WS,
    warmupCampaignId: id(3),
    senderAccountId: id(4),
    recipientAccountId: id(5),
    dayNumber: 12,
    date: '2025-07-09',
    seq: 3,
  },
  'enrich-lead': {
    workspaceId: WS,
    leadId: id(6),
    providerId: id(7),
    enrichmentTypes: ['email', 'company_info'],
    inputData: { firstName: 'Ada', lastName: 'Lovelace', domain: 'analytical-engines.co.uk' },
  },
  'batch-enrich': {
    workspaceId: WS,
    enrichmentJobId: id(8),
    leadIds: [id(9), id(10), id(11)],
    providerId: id(7),
    enrichmentTypes: ['phone'],
  },
  'verify-email': { workspaceId: WS, emails: ['ada@analytical-engines.co.uk', 'charles@babbage.org'] },
  'company-enrich': {
    workspaceId: WS,
    companies: [{ domain: 'acme.com', name: 'Acme Inc.' }, { name: 'Initech' }],
    providerId: id(7),
  },
  'generate-email-content': {
    workspaceId: WS,
    userId: id(12),
    leadId: id(6),
    campaignId: id(2),
    stepNumber: 1,
    context: {
      leadName: 'Ada Lovelace',
      company: 'Analytical Engines Ltd',
      title: 'CTO',
      campaignGoal: 'Book a 20-minute demo of our scheduling tool',
      tone: 'friendly',
      length: 'short',
    },
    provider: 'anthropic',
  },
  'analyze-sentiment': {
    workspaceId: WS,
    threadKey: `email:${id(13)}`,
    leadId: id(6),
    channel: 'email',
    messages: [
      {
        id: id(14),
        content: 'Hi Ada, would a demo next week help?',
        isFromLead: false,
        timestamp: '2025-07-08T09:00:00Z',
      },
      {
        id: id(15),
        content: 'Sounds great, Tuesday works.',
        isFromLead: true,
        timestamp: '2025-07-09T10:12:00+01:00',
      },
    ],
  },
  'generate-smart-reply': {
    workspaceId: WS,
    messageId: id(15),
    threadId: id(13),
    content: 'Sounds great, Tuesday works.',
    senderEmail: 'ada@analytical-engines.co.uk',
    senderName: 'Ada Lovelace',
    count: 2,
  },
  'extract-meeting-intent': {
    workspaceId: WS,
    messageId: id(15),
    messageType: 'email',
    content: 'Sounds great, Tuesday 3pm works for a call.',
    senderEmail: 'ada@analytical-engines.co.uk',
    threadId: id(13),
  },
  'calculate-campaign-stats': { workspaceId: WS, campaignId: id(2), slot: '20250709T1430Z' },
  'refresh-analytics': { group: 'hourly', slot: '20250709T1400Z' },
  'generate-report': {
    workspaceId: WS,
    reportType: 'campaign-performance',
    reportId: id(16),
    campaignId: id(2),
    dateRange: { start: '2025-06-01', end: '2025-06-30' },
    recipients: ['founder@example.com'],
  },
  'export-data': {
    workspaceId: WS,
    exportJobId: id(17),
    type: 'leads',
    format: 'csv',
    fields: ['email', 'first_name', 'company'],
    filters: { statuses: ['contacted', 'replied'], createdFrom: '2025-01-01T00:00:00Z' },
  },
  'sync-hubspot': { workspaceId: WS, mode: 'outbox', windowSlot: '20250709T1430Z' },
  'sync-salesforce': {
    workspaceId: WS,
    integrationId: id(18),
    syncType: 'incremental',
    windowSlot: '20250709T1430Z',
  },
  'sync-linkedin': { workspaceId: WS, jobType: 'identity', date: '2025-07-09' },
  'sync-calendar': {
    workspaceId: WS,
    calendarAccountId: id(19),
    syncType: 'incremental',
    slot: '20250709T1430Z',
  },
  'cleanup-old-data': { only: ['enrichment_cache'], slot: '20250709T1400Z', requestedBy: 'system' },
  'optimize-images': {
    workspaceId: WS,
    uploadId: id(20),
    bucket: 'coldcopy-uploads',
    key: `workspaces/${WS}/avatars/ada.png`,
    fileType: 'avatar',
  },
  'backup-data': { kind: 'full', retentionCategory: 'compliance', date: '2025-07-01' },
  'cache-warming': { scopes: ['lead-scores'], limits: { maxWorkspaces: 500 }, slot: '20250709T1430Z' },
};

/** Changes to each sample that must change its idempotency key. */
const otherPayload: { [N in JobName]: Partial<JobInput<Extract<CatalogJob, { name: N }>>> } = {
  'send-email': { campaignEmailId: id(101) },
  'send-bulk-email': { windowSlot: '20250709T1435Z' },
  'process-webhook': { body: snsBody.replace('EXAMPLE==', 'OTHER==') },
  'warm-email': { seq: 4 },
  'enrich-lead': { enrichmentTypes: ['email'] },
  'batch-enrich': { enrichmentJobId: id(108) },
  'verify-email': { emails: ['ada@analytical-engines.co.uk'] },
  'company-enrich': { companies: [{ domain: 'acme.com' }] },
  'generate-email-content': { context: { campaignGoal: 'Invite to our webinar' } },
  'analyze-sentiment': {
    messages: [{ id: id(114), content: 'No thanks.', isFromLead: true, timestamp: '2025-07-09T11:00:00Z' }],
  },
  'generate-smart-reply': { messageId: id(115) },
  'extract-meeting-intent': { messageId: id(115) },
  'calculate-campaign-stats': { campaignId: undefined },
  'refresh-analytics': { force: true },
  'generate-report': { dateRange: { start: '2025-07-01', end: '2025-07-31' } },
  'export-data': { exportJobId: id(117) },
  'sync-hubspot': { mode: 'incremental' },
  'sync-salesforce': { syncType: 'full' },
  'sync-linkedin': { date: '2025-07-10' },
  'sync-calendar': { slot: '20250709T1445Z' },
  'cleanup-old-data': { dryRun: true },
  'optimize-images': { uploadId: id(120) },
  'backup-data': { kind: 'schema' },
  'cache-warming': { scopes: undefined },
};

const jobs = allJobs as readonly AnyJobDefinition[];
const eachJob = jobs.map((j) => [j.name, j] as const);
const sampleOf = (name: string) => structuredClone(samples[name as JobName]) as Record<string, unknown>;
/** Does the producer accept the job's sample with these fields replaced? */
const acceptsWith = (name: JobName, changes: Record<string, unknown>) => getJob(name)!.inputSchema.safeParse({ ...sampleOf(name), ...changes }).success;
const keyOf = (def: AnyJobDefinition, input: unknown) => def.idempotencyKey!(def.schema.parse(input));
const missingFields = (def: AnyJobDefinition, input: unknown) => {
  const result = def.inputSchema.safeParse(input);
  return result.success
    ? []
    : result.error.issues.filter((i) => i.code === 'invalid_type' && i.path.length === 1 && /received undefined/.test(i.message)).map((i) => String(i.path[0]));
};

describe('job catalog', () => {
  it('holds exactly the 24 named jobs, once each', () => {
    const names = allJobs.map((j) => j.name);
    expect(new Set(names).size).toBe(24);
    expect([...names].sort()).toEqual(Object.values(EXPECTED).flat().sort());
    expect(jobByName.size).toBe(24);
    for (const name of names) expect(getJob(name)?.name).toBe(name);
    expect(getJob('no-such-job')).toBeUndefined();
  });

  it('puts exactly its four jobs on every queue', () => {
    for (const queue of QUEUE_NAMES) {
      expect(jobsOnQueue(queue).map((j) => j.name)).toEqual(EXPECTED[queue]);
      expect(jobsOnQueue(queue).every((j) => j.queue === queue)).toBe(true);
    }
  });

  it('has a one-line description and a sample for every job', () => {
    for (const job of allJobs) {
      expect(job.description).toMatch(/^\S.{10,119}$/);
      expect(samples[job.name]).toBeDefined();
    }
  });

  it('scopes jobs by workspace except the five global ones', () => {
    const globalJobs = allJobs.filter((j) => j.scope === 'global').map((j) => j.name);
    expect(globalJobs.sort()).toEqual([...GLOBAL_JOBS].sort());
  });

  it.each(eachJob)('%s: workspaceId matches its scope', (name, def) => {
    const sample = sampleOf(name);
    if (def.scope === 'workspace') {
      expect(def.schema.shape).toHaveProperty('workspaceId');
      const { workspaceId: _omitted, ...withoutWs } = sample;
      expect(missingFields(def, withoutWs)).toEqual(['workspaceId']);
      expect(def.inputSchema.safeParse({ ...sample, workspaceId: 'acme' }).success).toBe(false);
      const json = jobInputJsonSchema(def);
      if (name === 'send-bulk-email') {
        // its global fan-out form ({ fanOut: true }) has no tenant: workspaceId comes with campaignId
        expect(json.dependentRequired).toMatchObject({ campaignId: expect.arrayContaining(['workspaceId']) });
      } else if (name === 'warm-email') {
        // likewise its fan-out forms: workspaceId comes with warmupCampaignId
        expect(json.dependentRequired).toMatchObject({ warmupCampaignId: expect.arrayContaining(['workspaceId']) });
      } else if (name === 'sync-calendar') {
        // likewise its fan-out form: workspaceId comes with calendarAccountId
        expect(json.dependentRequired).toMatchObject({ calendarAccountId: expect.arrayContaining(['workspaceId']) });
      } else if ('fanOut' in def.schema.shape) {
        // the integration syncs' fan-out forms (jobs/fan-out.ts): workspaceId unless fanOut, itself the key or required with it
        const key = (json.anyOf as Array<{ required: string[] }>)[0]!.required[0]!;
        expect(key === 'workspaceId' || (json.dependentRequired as Record<string, string[]>)[key]!.includes('workspaceId')).toBe(true);
        expect(missingFields(def, { ...withoutWs, fanOut: true })).toEqual([]);
      } else {
        expect(json.required).toContain('workspaceId');
      }
    } else {
      expect(def.schema.shape).not.toHaveProperty('workspaceId');
      expect(sample).not.toHaveProperty('workspaceId');
      expect(def.inputSchema.safeParse({ ...sample, workspaceId: WS }).success).toBe(false);
    }
  });

  it.each(eachJob)('%s: has a JSON Schema', (_name, def) => {
    const schema = jobInputJsonSchema(def);
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(() => JSON.stringify(schema)).not.toThrow();
  });

  it.each(eachJob)('%s: accepts its sample and round-trips through JSON', (name, def) => {
    const sample = sampleOf(name);
    const parsed = def.inputSchema.parse(sample);
    // JSON-shaped: what the worker re-parses from Redis is what the producer stored.
    expect(def.schema.parse(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
  });

  // Jobs run by a repeatable schedule (schedules.ts) have static data: their time-slot field is
  // optional (absent for scheduled runs, whose Bull repeat job id is already unique per tick).
  const SCHEDULED_STATIC = ['refresh-analytics', 'cleanup-old-data', 'backup-data', 'cache-warming'];

  it.each(eachJob.filter(([name]) => !SCHEDULED_STATIC.includes(name)))('%s: rejects {} naming a missing field', (_name, def) => {
    expect(missingFields(def, {}).length).toBeGreaterThan(0);
  });

  it('accepts scheduled jobs without their time slot, and keys them apart from slotted runs', () => {
    expect(getJob('cleanup-old-data')!.inputSchema.safeParse({}).success).toBe(true);
    expect(getJob('cache-warming')!.inputSchema.safeParse({}).success).toBe(true);
    expect(getJob('refresh-analytics')!.inputSchema.safeParse({ group: 'hourly' }).success).toBe(true);
    expect(getJob('refresh-analytics')!.inputSchema.safeParse({}).success).toBe(false);
    expect(getJob('backup-data')!.inputSchema.safeParse({ kind: 'full' }).success).toBe(true);
    expect(getJob('backup-data')!.inputSchema.safeParse({}).success).toBe(false);
    for (const name of SCHEDULED_STATIC) {
      const def = getJob(name)!;
      const sample = sampleOf(name);
      const { slot: _slot, date: _date, ...unslotted } = sample;
      expect(keyOf(def, unslotted), name).not.toEqual(keyOf(def, sample));
    }
  });

  it.each(eachJob)('%s: rejects a wrong type in every field', (name, def) => {
    const sample = sampleOf(name);
    for (const [field, value] of Object.entries(sample)) {
      const wrong = typeof value === 'string' ? 42 : 'not-the-right-type';
      const result = def.inputSchema.safeParse({ ...sample, [field]: wrong });
      expect(result.success, `${name}.${field}`).toBe(false);
      expect(result.error?.issues.some((i) => i.path[0] === field)).toBe(true);
    }
  });

  it.each(eachJob)('%s: producer rejects unknown keys, worker strips them', (name, def) => {
    const withExtra = { ...sampleOf(name), campaignEmailID: 'typo' };
    const strict = def.inputSchema.safeParse(withExtra);
    expect(strict.success).toBe(false);
    expect(strict.error?.issues.map((i) => i.code)).toContain('unrecognized_keys');
    expect(def.schema.parse(withExtra)).not.toHaveProperty('campaignEmailID');
  });

  it.each(eachJob)('%s: idempotency key is deterministic and payload-specific', (name, def) => {
    expect(typeof def.idempotencyKey).toBe('function');
    const first = keyOf(def, sampleOf(name));
    expect(first.length).toBeGreaterThan(0);
    for (const part of first) {
      expect(['string', 'number', 'boolean']).toContain(typeof part);
      expect(String(part)).not.toBe('');
    }
    expect(keyOf(def, sampleOf(name))).toEqual(first);
    const changed = { ...sampleOf(name), ...(structuredClone(otherPayload[name as JobName]) as object) };
    expect(keyOf(def, changed)).not.toEqual(first);
  });
});

describe('job details', () => {
  it('applies documented defaults', () => {
    const send = getJob('send-email')!.schema.parse({ workspaceId: WS, campaignEmailId: id(1) });
    expect(send).toMatchObject({ trackOpens: true, trackClicks: true, checkConsent: false });
    const bulk = getJob('send-bulk-email')!.schema.parse({
      workspaceId: WS,
      campaignId: id(2),
      windowSlot: '20250709T1430Z',
    });
    expect(bulk).toMatchObject({ batchSize: 50 });
    const cleanup = getJob('cleanup-old-data')!.schema.parse({ slot: '20250709T0200Z' });
    expect(cleanup).toMatchObject({ dryRun: false, batchSize: 1000 });
  });

  it('bounds counts, arrays and strings', () => {
    expect(acceptsWith('send-bulk-email', { batchSize: 500 })).toBe(true);
    expect(acceptsWith('send-bulk-email', { batchSize: 501 })).toBe(false);
    expect(acceptsWith('send-bulk-email', { batchSize: 0 })).toBe(false);
    expect(acceptsWith('send-bulk-email', { batchSize: 1.5 })).toBe(false);
    const ids = (n: number) => Array.from({ length: n }, (_, i) => id(i));
    expect(acceptsWith('batch-enrich', { leadIds: ids(1000) })).toBe(true);
    expect(acceptsWith('batch-enrich', { leadIds: ids(1001) })).toBe(false);
    expect(acceptsWith('batch-enrich', { leadIds: [] })).toBe(false);
    const emails = (n: number) => Array.from({ length: n }, (_, i) => `u${i}@example.com`);
    expect(acceptsWith('verify-email', { emails: emails(1000) })).toBe(true);
    expect(acceptsWith('verify-email', { emails: emails(1001) })).toBe(false);
    expect(acceptsWith('process-webhook', { body: 'x'.repeat(256 * 1024) })).toBe(true);
    expect(acceptsWith('process-webhook', { body: 'x'.repeat(256 * 1024 + 1) })).toBe(false);
  });

  it('validates slots, dates and timestamps', () => {
    for (const windowSlot of ['2025-07-09T14:30Z', '20250709T1430', '20251309T1430Z', '20250709T2460Z']) {
      expect(acceptsWith('send-bulk-email', { windowSlot }), windowSlot).toBe(false);
    }
    const backwards = { start: '2025-07-02', end: '2025-07-01' };
    expect(acceptsWith('generate-report', { dateRange: backwards })).toBe(false);
    expect(acceptsWith('backup-data', { date: '2025-02-30' })).toBe(false);
    expect(acceptsWith('process-webhook', { receivedAt: '9 July 2025' })).toBe(false);
    expect(acceptsWith('process-webhook', { receivedAt: '2025-07-09T16:31:08+02:00' })).toBe(true);
  });

  it('keys process-webhook by the sha256 of the raw body', () => {
    const def = getJob('process-webhook')!;
    expect(keyOf(def as AnyJobDefinition, sampleOf('process-webhook'))).toEqual(['ses', createHash('sha256').update(snsBody).digest('hex')]);
  });

  it('ignores the order of set-like fields in keys', () => {
    const enrich = getJob('enrich-lead') as AnyJobDefinition;
    expect(keyOf(enrich, { ...sampleOf('enrich-lead'), enrichmentTypes: ['company_info', 'email'] })).toEqual(keyOf(enrich, sampleOf('enrich-lead')));
    const verify = getJob('verify-email') as AnyJobDefinition;
    const reordered = { workspaceId: WS, emails: ['charles@babbage.org', 'Ada@Analytical-Engines.co.uk'] };
    expect(keyOf(verify, reordered)).toEqual(keyOf(verify, sampleOf('verify-email')));
  });

  it('keeps the workspace in keys whose other parts are not unique across workspaces', () => {
    const names = ['calculate-campaign-stats', 'company-enrich', 'verify-email', 'sync-hubspot'] as const;
    for (const name of names) {
      const def = getJob(name) as AnyJobDefinition;
      expect(keyOf(def, { ...sampleOf(name), workspaceId: id(999) })).not.toEqual(keyOf(def, sampleOf(name)));
    }
  });

  it('sets the documented options', () => {
    for (const job of jobsOnQueue('ai')) expect(job.options).toMatchObject({ attempts: 2, timeoutMs: 120_000 });
    for (const job of jobsOnQueue('maintenance')) expect(job.options.attempts).toBe(1);
    expect(getJob('process-webhook')!.options.priority).toBe('high');
    expect(getJob('send-email')!.options.priority).toBe('normal');
    const quiet = ['refresh-analytics', 'cache-warming', 'cleanup-old-data', 'backup-data', 'optimize-images'];
    for (const name of quiet) {
      expect(['low', 'background']).toContain(getJob(name)!.options.priority);
    }
  });
});
