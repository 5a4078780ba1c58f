import { createHash, randomUUID } from 'node:crypto';
import { analyzeSentiment } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { useAiHarness } from './harness.js';

/**
 * Shared provider limits (issue 14, deliver 4) through the real SDK against the fake server, which
 * enforces its own requests-per-minute limit and answers 429 beyond it: two worker "replicas"
 * (each with its own limits object, as two processes have) keep one key's rate in Redis together,
 * and an answer saying few requests are left holds every caller off until the provider has given
 * enough back, before any 429.
 */
const h = useAiHarness();

const message = (content: string) => ({ id: randomUUID(), content, isFromLead: true, timestamp: new Date().toISOString() });
const job = (workspaceId: string) => ({
  workspaceId,
  threadKey: `email:${randomUUID()}`,
  channel: 'email' as const,
  messages: [message('Thanks, sounds good.')],
});
/** the Redis key of the OpenAI test key's limits (redis-provider-limits.ts) */
const limitKey = () => `${h.prefix}:ai:llm:openai:${createHash('sha256').update('test-openai').digest('hex').slice(0, 12)}`;

describe('shared provider limits', () => {
  it('two replicas share one requests-per-minute limit in Redis: every call within the provider limit, no 429', async () => {
    const { workspaceId } = await h.seedWorkspace();
    // the provider allows 120 per minute with a burst of two; so do both replicas, together
    h.fake.configure({ rpm: 120 });
    const limits = { openai: { rpm: 120, tpm: 0, maxConcurrent: 8 } };
    const [a] = await Promise.all([h.worker(h.deps({ providers: ['openai'], limits }), 4), h.worker(h.deps({ providers: ['openai'], limits }), 4)]);
    const ids = await Promise.all(Array.from({ length: 12 }, () => h.producer.enqueue(analyzeSentiment, job(workspaceId)).then((j) => j.id)));
    await waitFor(
      async () => {
        const states = await Promise.all(ids.map(async (id) => (await a.inspect.job(id))!.state));
        return states.every((s) => s === 'completed') || undefined;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: 'twelve jobs completed' },
    );
    // eight calls could start at once; the fake would have refused all but two of them
    expect(h.fake.rateLimited()).toBe(0);
    expect(h.fake.requests.filter((r) => r.status === 200)).toHaveLength(12);
  });

  it('an answer with under 10 % of the requests left holds every caller off until enough are back (no 429)', async () => {
    const { workspaceId } = await h.seedWorkspace();
    // 60 per minute, a burst of one: after a call the fake reports 0 left; the workers know no rpm
    // of their own, only what the answers say
    h.fake.configure({ rpm: 60 });
    const w = await h.worker(h.deps({ providers: ['openai'], limits: { openai: { rpm: 0, tpm: 0, maxConcurrent: 8 } } }));
    const first = await h.run(w, analyzeSentiment, job(workspaceId));
    expect(first.state).toBe('completed');
    // 0 of 60 left: a hold-off for every replica until the floor (6, 10 %) is back at 60 per minute, 6 s
    const hold = Number(await h.redis.pttl(`${limitKey()}:slow`));
    expect(hold).toBeGreaterThan(0);
    const second = await h.run(w, analyzeSentiment, job(workspaceId));
    expect(second.state).toBe('completed');
    expect(h.fake.requests).toHaveLength(2);
    // the second call waited the hold out (a lower bound: a loaded machine only adds to it)
    expect(h.fake.requests[1]!.at - h.fake.requests[0]!.at).toBeGreaterThanOrEqual(5000);
    expect(h.fake.rateLimited()).toBe(0);
  });
});
