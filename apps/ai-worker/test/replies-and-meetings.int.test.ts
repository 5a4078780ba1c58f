import { randomUUID } from 'node:crypto';
import { extractMeetingIntent, generateSmartReply } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { useAiHarness } from './harness.js';

const h = useAiHarness();
const reply = (workspaceId: string, content: string, extra: Record<string, unknown> = {}) => ({
  workspaceId,
  messageId: randomUUID(),
  threadId: randomUUID(),
  content,
  senderEmail: 'Dana.Reyes@Northwind.example',
  senderName: 'Dana Reyes',
  ...extra,
});

describe('generate-smart-reply', () => {
  it('stores the analysis, three ranked suggestions and the conversation context; a re-run makes no call', async () => {
    const { workspaceId, leadId } = await h.seedWorkspace();
    const w = await h.worker(h.deps());
    const input = reply(workspaceId, 'Thanks for reaching out. Could you send pricing for 20 seats?', { leadId });
    const done = await h.run(w, generateSmartReply, input);
    expect(done.state).toBe('completed');
    expect(done.value.suggestionIds).toHaveLength(3);
    const rows = await h.pool.query(
      `SELECT a.intent, a.sentiment, s.rank, s.tone, s.status FROM message_analysis a JOIN reply_suggestions s ON s.analysis_id = a.id
       WHERE a.workspace_id = $1 ORDER BY s.rank`,
      [workspaceId],
    );
    expect(rows.rows.map((r) => r.rank)).toEqual([1, 2, 3]);
    expect(rows.rows[0]).toMatchObject({ intent: 'question', status: 'suggested' });
    const context = await h.pool.query('SELECT summary, message_count, context FROM conversation_context WHERE workspace_id = $1', [workspaceId]);
    expect(context.rows[0]).toMatchObject({ message_count: 1, context: { last_intent: 'question' } });
    // the prompt asked for exactly three, with the lead's text delimited
    const user = (h.fake.requests[0]!.body.messages as Array<{ content: string }>)[1]!.content;
    expect(user).toContain('Write exactly 3 suggestions');
    expect(user).toContain('<lead_message sender="Dana Reyes">Thanks for reaching out.');

    expect(await w.inspect.remove(done.jobId)).toBe(true);
    const again = await h.run(w, generateSmartReply, input);
    expect(again.value).toEqual(done.value);
    expect(h.fake.requests).toHaveLength(1);
  });

  it('an unsubscribe intent suppresses the sender and makes no suggestions', async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps());
    const done = await h.run(w, generateSmartReply, reply(workspaceId, 'Please unsubscribe me from this list.'));
    expect(done.value).toMatchObject({ suggestionIds: [], suppressed: true });
    const sup = await h.pool.query('SELECT email, suppression_type, is_active FROM suppression_list WHERE workspace_id = $1', [workspaceId]);
    expect(sup.rows).toEqual([{ email: 'dana.reyes@northwind.example', suppression_type: 'unsubscribe', is_active: true }]);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM reply_suggestions WHERE workspace_id = $1', [workspaceId])).rows[0].n).toBe(0);
  });

  it('fewer suggestions than asked is invalid output: one more call, then a permanent failure', async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps({ providers: ['openai'] }));
    const short = {
      intent: 'interested',
      sentiment: 'positive',
      urgency: 'low',
      confidence: 0.9,
      keyPoints: [],
      questions: [],
      summary: 's',
      suggestions: [{ content: 'Hi', tone: 'friendly' }],
    };
    h.fake.script({ fault: { kind: 'output', output: short } }, { fault: { kind: 'output', output: short } });
    const done = await h.run(w, generateSmartReply, reply(workspaceId, 'Interested!', { count: 2 }));
    expect(done).toMatchObject({ state: 'failed', attempts: 1 });
    expect(done.reason).toMatch(/expected 2 suggestions, got 1/);
    expect(done.reason).not.toMatch(/Interested!/);
  });
});

describe('extract-meeting-intent', () => {
  const now = new Date('2026-12-07T08:00:00Z'); // a Monday
  it('a meeting request is stored once per message with three free slots around calendar busy times', async () => {
    const { workspaceId, leadId } = await h.seedWorkspace();
    const busy = [{ start: new Date('2026-12-07T10:00:00Z'), end: new Date('2026-12-07T11:30:00Z') }];
    const w = await h.worker(h.deps({ busy, now: () => now }));
    const input = {
      workspaceId,
      messageId: randomUUID(),
      messageType: 'email' as const,
      content: 'Can we schedule a call this week?',
      senderEmail: 'dana@northwind.example',
      leadId,
    };
    const done = await h.run(w, extractMeetingIntent, input);
    expect(done.value).toMatchObject({ detected: true, confidence: 0.9 });
    const request = await h.pool.query('SELECT status, intent_type, duration_minutes, lead_id FROM meeting_requests WHERE id = $1', [
      done.value.meetingRequestId,
    ]);
    expect(request.rows[0]).toEqual({ status: 'proposed', intent_type: 'schedule', duration_minutes: 30, lead_id: leadId });
    const slots = await h.pool.query('SELECT starts_at, ends_at FROM meeting_slots WHERE meeting_request_id = $1 ORDER BY starts_at', [
      done.value.meetingRequestId,
    ]);
    // default availability 09-17 UTC weekdays, two hours' notice, 30-minute steps, none overlapping 10:00-11:30
    expect(slots.rows.map((r) => (r.starts_at as Date).toISOString())).toEqual([
      '2026-12-07T11:30:00.000Z',
      '2026-12-07T12:00:00.000Z',
      '2026-12-07T12:30:00.000Z',
    ]);

    expect(await w.inspect.remove(done.jobId)).toBe(true);
    const again = await h.run(w, extractMeetingIntent, input);
    expect(again.value).toEqual({ detected: true, meetingRequestId: done.value.meetingRequestId, confidence: 0.9 });
    expect(h.fake.requests).toHaveLength(1);
  });

  it('"not a meeting" is a success with detected: false and stores no request', async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps({ now: () => now }));
    const done = await h.run(w, extractMeetingIntent, {
      workspaceId,
      messageId: randomUUID(),
      messageType: 'email',
      content: 'Thanks, we are all set for now.',
      senderEmail: 'dana@northwind.example',
    });
    expect(done).toMatchObject({ state: 'completed', value: { detected: false, confidence: 0.1 } });
    expect((await h.pool.query('SELECT count(*)::int AS n FROM meeting_requests WHERE workspace_id = $1', [workspaceId])).rows[0].n).toBe(0);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM ai_usage_logs WHERE workspace_id = $1', [workspaceId])).rows[0].n).toBe(1);
  });
});
