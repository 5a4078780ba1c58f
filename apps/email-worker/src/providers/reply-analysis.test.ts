import { randomUUID } from 'node:crypto';
import { analyzeSentiment, extractMeetingIntent, generateSmartReply } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { replyAnalysisJobs, replyContent, type ReplyToAnalyse } from './reply-analysis.js';

const reply = (over: Partial<ReplyToAnalyse> = {}): ReplyToAnalyse => ({
  workspaceId: randomUUID(),
  emailMessageId: randomUUID(),
  threadId: randomUUID(),
  leadId: randomUUID(),
  senderEmail: 'lead@x.example',
  senderName: 'Lead',
  text: 'Yes, Tuesday works.',
  receivedAt: new Date('2026-12-01T15:00:00Z'),
  ...over,
});

describe('replyContent: the reply without its quoted history', () => {
  it('cuts at the quote header of the common clients, and drops > lines', () => {
    expect(replyContent('Yes please.\r\n\r\nOn Mon, 1 Dec 2026 at 15:00, Sales <s@a.example> wrote:\r\n> Hi\r\n')).toBe('Yes please.');
    // Gmail wraps a long header over two lines
    expect(replyContent('Yes please.\n\nOn Mon, Dec 1, 2026 at 3:00 PM Sales Person <sales@a.example>\nwrote:\n\n> Hi')).toBe('Yes please.');
    expect(replyContent('Oui.\n\nLe lun. 1 déc. 2026 à 15:00, Sales <s@a.example> a écrit :\n> Bonjour')).toBe('Oui.');
    expect(replyContent('Sure.\n\n-----Original Message-----\nFrom: Sales\nSent: Monday')).toBe('Sure.');
    expect(replyContent('Sure.\n\n________________________________\nFrom: Sales\nSent: Monday')).toBe('Sure.');
    expect(replyContent('Sure.\n-- \nJane Doe\n+1 555 0100')).toBe('Sure.');
    // inline answers between quoted lines stay
    expect(replyContent('> Would Tuesday work?\nYes.\n> And Wednesday?\nNo.')).toBe('Yes.\nNo.');
    // an ordinary sentence is not a quote header
    expect(replyContent('On second thought, she wrote:\nlet us meet.')).toBe('On second thought, she wrote:\nlet us meet.');
    expect(replyContent('> only\n> quoted\n')).toBe('');
  });

  it('keeps at most 10,000 characters, never half a surrogate pair', () => {
    expect(replyContent('a'.repeat(12_000))).toHaveLength(10_000);
    const cut = replyContent(`${'a'.repeat(9_999)}😀tail`);
    expect(cut).toBe('a'.repeat(9_999));
  });
});

describe('replyAnalysisJobs', () => {
  it('builds payloads the producer accepts (strict schemas)', () => {
    const built = replyAnalysisJobs(reply({ text: 'Yes, Tuesday works.\n\n> old' }), { traceId: 't-1' });
    if (!('jobs' in built)) throw new Error('expected jobs');
    expect(analyzeSentiment.inputSchema.safeParse(built.jobs.sentiment).success).toBe(true);
    expect(generateSmartReply.inputSchema.safeParse(built.jobs.smartReply).success).toBe(true);
    expect(extractMeetingIntent.inputSchema.safeParse(built.jobs.meeting).success).toBe(true);
    expect(built.jobs.smartReply).toMatchObject({ content: 'Yes, Tuesday works.', traceId: 't-1', requestedBy: 'system' });
  });

  it('omits a missing sender name and shortens a long one', () => {
    const none = replyAnalysisJobs(reply({ senderName: null }));
    expect('jobs' in none && none.jobs.meeting).not.toHaveProperty('senderName');
    const long = replyAnalysisJobs(reply({ senderName: 'N'.repeat(300) }));
    expect('jobs' in long && long.jobs.smartReply.senderName).toHaveLength(200);
  });

  it('skips a reply without text of its own or without a valid sender address', () => {
    expect(replyAnalysisJobs(reply({ text: null }))).toEqual({ skipped: 'no-text' });
    expect(replyAnalysisJobs(reply({ text: '  \n> quoted' }))).toEqual({ skipped: 'no-text' });
    expect(replyAnalysisJobs(reply({ senderEmail: '' }))).toEqual({ skipped: 'no-sender' });
  });
});
