import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../definitions/define-job.js';
import { FieldDecryptionError } from '../definitions/errors.js';
import { analyzeSentiment, generateSmartReply } from '../jobs/ai.jobs.js';
import { JobSecurity } from './job-security.js';

/** Sensitive fields inside array elements (`messages[].content`): the AI queue's reply content. */
const E1 = 'e1:XWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY=';
const K1 = 'k1:PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBc=';
const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';
const security = () => new JobSecurity({ signingKeys: K1, encryptionKeys: E1 });
const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const thread = defineJob({
  name: 'test-thread',
  queue: 'ai',
  description: 'messages with text (test only)',
  scope: 'workspace',
  payload: { messages: z.array(z.object({ id: z.string(), body: z.string(), note: z.string().optional() })), title: z.string() },
  sensitive: ['messages[].body', 'messages[].note', 'title'],
});

describe('sensitive fields of array elements', () => {
  const payload = {
    workspaceId: WS,
    title: 'Re: pricing',
    messages: [
      { id: 'm1', body: 'Call me at +1 555 0100, jane@lead.example', note: 'vip' },
      { id: 'm2', body: 'Thursday works' },
    ],
  };

  it('encrypts the field in every element and nothing else, and opens back to the payload', () => {
    const s = security();
    const stored = s.seal(thread, payload);
    const text = JSON.stringify(stored);
    for (const clear of ['+1 555 0100', 'jane@lead.example', 'vip', 'Thursday', 'pricing']) expect(text).not.toContain(clear);
    const messages = stored.messages as Array<Record<string, string>>;
    expect(messages.map((m) => m.id)).toEqual(['m1', 'm2']);
    expect(messages[0]!.body).toMatch(/^enc:v1:e1:/);
    expect(messages[1]).not.toHaveProperty('note');
    expect(payload.messages[0]!.body).toContain('jane@'); // input untouched
    expect(s.open(thread, roundTrip(stored))).toEqual(payload);
  });

  it('binds an envelope to its element: swapped bodies or clear text fail permanently', () => {
    const s = security();
    const stored = roundTrip(s.seal(thread, payload)) as { messages: Array<Record<string, string>> };
    const [a, b] = stored.messages as [Record<string, string>, Record<string, string>];
    const swapped = {
      ...stored,
      messages: [
        { ...a, body: b.body },
        { ...b, body: a.body },
      ],
    };
    expect(() => s.open(thread, swapped)).toThrow(/messages\[0\]\.body.*authentication failed/);
    const clear = { ...stored, messages: [{ ...a, body: 'hello' }, b] };
    expect(() => s.open(thread, clear)).toThrow(FieldDecryptionError);
  });

  it('the ai queue keeps what leads wrote encrypted: message lists, reply content and sender', () => {
    expect(analyzeSentiment.sensitive).toEqual(['messages[].content']);
    expect(generateSmartReply.sensitive).toEqual(['content', 'senderEmail', 'senderName']);
    const s = security();
    const stored = s.seal(generateSmartReply, {
      workspaceId: WS,
      messageId: '00000000-0000-4000-8000-000000000001',
      threadId: '00000000-0000-4000-8000-000000000002',
      content: 'Can we meet Tuesday?',
      senderEmail: 'jane@lead.example',
      senderName: 'Jane Lead',
      count: 3,
    });
    expect(JSON.stringify(stored)).not.toMatch(/Tuesday|jane@lead|Jane Lead/);
  });

  it('only string fields of array elements are accepted by the compiler', () => {
    const def = defineJob({
      name: 'test-types-nested',
      queue: 'ai',
      description: 'types only',
      scope: 'workspace',
      payload: { list: z.array(z.object({ s: z.string(), n: z.number() })), tags: z.array(z.string()) },
      sensitive: [
        'list[].s',
        // @ts-expect-error a number field
        'list[].n',
        // @ts-expect-error elements are strings, not objects
        'tags[].length',
      ],
    });
    expect(def.sensitive).toHaveLength(3);
  });
});

describe('sensitive strings in objects and string arrays', () => {
  const job = defineJob({
    name: 'test-lookup',
    queue: 'enrichment',
    description: 'addresses (test only)',
    scope: 'workspace',
    payload: { emails: z.array(z.string()).optional(), inputData: z.object({ email: z.string().optional(), domain: z.string() }).optional() },
    sensitive: ['emails[]', 'inputData.email'],
  });
  it('encrypts every element and the object field, leaves the rest, and opens back', () => {
    const s = security();
    const payload = { workspaceId: WS, emails: ['a@x.example', 'b@y.example'], inputData: { email: 'c@z.example', domain: 'z.example' } };
    const stored = s.seal(job, payload);
    expect(JSON.stringify(stored)).not.toContain('@');
    expect((stored.inputData as { domain: string }).domain).toBe('z.example');
    expect(s.open(job, roundTrip(stored))).toEqual(payload);
    const swapped = roundTrip(stored) as { emails: string[] };
    swapped.emails.reverse();
    expect(() => s.open(job, swapped)).toThrow(/emails\[0\].*authentication failed/);
    const without = { workspaceId: WS };
    expect(s.seal(job, without)).toBe(without);
  });
});
