import { EnqueueOptionsError, JobValidationError, sendEmail } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { createFakeJobContext, EnqueueRecorder } from './job-context.js';

const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';
const email = (n: number) => ({ workspaceId: WS, campaignEmailId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` });

describe('createFakeJobContext', () => {
  it('records enqueued jobs with the payload the handler will get, the id and the delay the producer would give', async () => {
    const ctx = createFakeJobContext({}, { attempt: 2, scheduledAt: new Date('2026-12-01T15:00:00Z') });
    expect([ctx.attempt, ctx.scheduledAt.toISOString()]).toEqual([2, '2026-12-01T15:00:00.000Z']);
    const added = await ctx.enqueue(sendEmail, email(1), { delay: 5000 });
    expect(added).toEqual({ id: `send-email.${email(1).campaignEmailId}`, queue: 'email', name: 'send-email' });
    expect(ctx.recorder.jobs).toMatchObject([{ name: 'send-email', queue: 'email', delayMs: 5000, payload: { ...email(1), trackOpens: true } }]);
    expect(ctx.recorder.of(sendEmail)).toEqual([{ ...email(1), trackOpens: true, trackClicks: true, checkConsent: false }]);
  });

  it('adds a known id once, like Bull, across contexts sharing a recorder', async () => {
    const recorder = new EnqueueRecorder();
    const a = createFakeJobContext({}, { recorder });
    const b = createFakeJobContext({}, { recorder });
    await a.enqueue(sendEmail, email(1));
    await b.enqueueBulk(sendEmail, [{ data: email(1) }, { data: email(2) }]);
    expect(recorder.jobs.map((j) => j.payload.campaignEmailId)).toEqual([email(1).campaignEmailId, email(2).campaignEmailId]);
  });

  it('rejects what the producer rejects, and a bulk call with one bad item records nothing', async () => {
    const ctx = createFakeJobContext({});
    await expect(ctx.enqueue(sendEmail, { ...email(1), campaignEmailId: 'nope' })).rejects.toBeInstanceOf(JobValidationError);
    await expect(ctx.enqueue(sendEmail, email(1), { delay: -1 })).rejects.toBeInstanceOf(EnqueueOptionsError);
    await expect(ctx.enqueueBulk(sendEmail, [{ data: email(1) }, { data: { ...email(2), extra: 1 } as never }])).rejects.toBeInstanceOf(JobValidationError);
    expect(ctx.recorder.jobs).toEqual([]);
  });

  it('fails the next enqueues when told to, and records pause and resume', async () => {
    const ctx = createFakeJobContext({});
    ctx.recorder.failNext(new Error('Redis is unavailable'));
    await expect(ctx.enqueue(sendEmail, email(1))).rejects.toThrow('Redis is unavailable');
    await ctx.enqueue(sendEmail, email(1));
    await ctx.pauseQueue();
    expect(ctx.recorder.queue).toEqual({ paused: true, pauses: 1, resumes: 0 });
    await ctx.resumeQueue();
    expect(ctx.recorder.queue).toEqual({ paused: false, pauses: 1, resumes: 1 });
    await ctx.progress({ stage: 'done' });
    expect(ctx.progressReports).toEqual([{ stage: 'done' }]);
  });
});
