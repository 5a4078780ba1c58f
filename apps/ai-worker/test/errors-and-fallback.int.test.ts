import { generateEmailContent } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import type { Fault } from '../fake-llm/server.js';
import { useAiHarness } from './harness.js';

/**
 * Every error path of an AI job through the real SDKs against the fake server, on
 * generate-email-content (the others share llm-task.ts): which errors fall back, which retry after
 * the provider's retry-after, which fail at once with their reason, and what the budget says after.
 */
const h = useAiHarness();
const USER = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
let n = 0;
const input = (workspaceId: string, extra: Record<string, unknown> = {}) => ({
  workspaceId,
  userId: USER,
  context: { leadName: 'Dana', company: 'Northwind', campaignGoal: `book a demo (${++n})` },
  ...extra,
});

async function usage(jobId: string) {
  const { rows } = await h.pool.query('SELECT provider, outcome FROM ai_usage_logs WHERE job_id = $1 ORDER BY created_at, call_key', [jobId]);
  return rows.map((r) => `${r.provider}:${r.outcome}`);
}

describe('fallback to the other provider', () => {
  const fallbackCases: Array<[string, Fault, string]> = [
    ['429', { kind: 'status', status: 429, headers: { 'retry-after-ms': '30000' } }, 'rate_limited'],
    ['529', { kind: 'status', status: 529 }, 'overloaded'],
    ['500', { kind: 'status', status: 500 }, 'server'],
    ['a dropped connection', { kind: 'close' }, 'connection'],
    ['a timeout', { kind: 'hang' }, 'timeout'],
  ];
  it.each(fallbackCases)('%s on the primary: the other provider answers, both calls are recorded', async (_name, fault, kind) => {
    const { workspaceId } = await h.seedWorkspace({ balance: 100_000 });
    const d = h.deps({ defaultProvider: 'openai' });
    const w = await h.worker({ ...d, config: { timeoutMs: 800 } });
    h.fake.script({ route: 'chat', fault });
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done).toMatchObject({ state: 'completed', attempts: 0, value: { model: 'claude-haiku-4-5' } });
    expect(await usage(done.jobId)).toEqual([`openai:${kind}`, 'anthropic:ok']);
  });

  const permanentCases: Array<[string, Fault, RegExp]> = [
    ['400', { kind: 'status', status: 400 }, /openai answered 400/],
    ['401', { kind: 'status', status: 401 }, /refused the API key/],
    ['403', { kind: 'status', status: 403 }, /refused the API key/],
    ['404', { kind: 'status', status: 404 }, /does not know the model/],
    ['422', { kind: 'status', status: 422 }, /openai answered 422/],
    ['insufficient_quota', { kind: 'status', status: 429, code: 'insufficient_quota' }, /insufficient_quota/],
    ['a length cut-off', { kind: 'length' }, /cut off at the max tokens/],
  ];
  it.each(permanentCases)('%s: no fallback, permanent failure after one attempt with the reason; the hold goes back', async (_name, fault, reason) => {
    const { workspaceId } = await h.seedWorkspace({ balance: 100_000 });
    const w = await h.worker(h.deps({ defaultProvider: 'openai' }));
    h.fake.script({ fault });
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done.state).toBe('failed');
    expect(done.reason).toMatch(reason);
    expect(done.attempts).toBe(1);
    expect(h.fake.requests.map((r) => r.route)).toEqual(['chat']);
    // only tokens the provider reported are charged (a cut-off consumed some)
    const charged =
      fault.kind === 'length'
        ? Number((await h.pool.query('SELECT sum(input_tokens + output_tokens) AS t FROM ai_usage_logs WHERE job_id = $1', [done.jobId])).rows[0].t)
        : 0;
    expect(await h.balance(workspaceId)).toEqual({ balance: 100_000 - charged, used: charged });
  });
});

describe('without a fallback provider', () => {
  it("429: the attempt is retried after the provider's retry-after-ms, then succeeds", async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps({ providers: ['openai'] }));
    h.fake.script({ fault: { kind: 'status', status: 429, headers: { 'retry-after-ms': '1200' } } });
    const started = Date.now();
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done).toMatchObject({ state: 'completed', attempts: 1 });
    expect(h.fake.requests[1]!.at - h.fake.requests[0]!.at).toBeGreaterThanOrEqual(1150);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1150);
    expect(await usage(done.jobId)).toEqual(['openai:rate_limited', 'openai:ok']);
  });

  it('529 twice: both attempts used, the job fails', async () => {
    const { workspaceId } = await h.seedWorkspace({ balance: 100_000 });
    const w = await h.worker(h.deps({ providers: ['anthropic'] }));
    h.fake.script(
      { fault: { kind: 'status', status: 529, headers: { 'retry-after': '1' } } },
      { fault: { kind: 'status', status: 529, headers: { 'retry-after': '1' } } },
    );
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done).toMatchObject({ state: 'failed', attempts: 2 });
    expect(done.reason).toMatch(/anthropic answered 529/);
    expect(await h.balance(workspaceId)).toEqual({ balance: 100_000, used: 0 });
  });

  it('fallback off: a 500 retries on the same provider', async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps({ fallback: false }));
    h.fake.script({ fault: { kind: 'status', status: 500, headers: { 'retry-after-ms': '1000' } } });
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done).toMatchObject({ state: 'completed', attempts: 1 });
    expect(h.fake.requests.map((r) => r.route)).toEqual(['chat', 'chat']);
  });
});

describe('provider and model choice', () => {
  it('the workspace setting picks the provider and model; a job override wins', async () => {
    const { workspaceId } = await h.seedWorkspace({ settings: { ai: { provider: 'anthropic', model: 'claude-sonnet-4-5' } } });
    const w = await h.worker(h.deps({ defaultProvider: 'openai' }));
    const a = await h.run(w, generateEmailContent, input(workspaceId));
    expect(a.value.model).toBe('claude-sonnet-4-5');
    const b = await h.run(w, generateEmailContent, input(workspaceId, { provider: 'openai', model: 'gpt-4.1-nano' }));
    expect(b.value.model).toBe('gpt-4.1-nano');
    expect(h.fake.requests.map((r) => `${r.route}:${r.model}`)).toEqual(['messages:claude-sonnet-4-5', 'chat:gpt-4.1-nano']);
  });

  it('invalid output twice fails permanently; once is retried in the attempt', async () => {
    const { workspaceId } = await h.seedWorkspace();
    const w = await h.worker(h.deps({ providers: ['openai'] }));
    h.fake.script({ fault: { kind: 'invalid_json' } }, { fault: { kind: 'schema_mismatch' } });
    const bad = await h.run(w, generateEmailContent, input(workspaceId));
    expect(bad).toMatchObject({ state: 'failed', attempts: 1 });
    expect(bad.reason).toMatch(/invalid LLM output after one retry/);
    h.fake.script({ fault: { kind: 'invalid_json' } });
    const good = await h.run(w, generateEmailContent, input(workspaceId));
    expect(good).toMatchObject({ state: 'completed', attempts: 0 });
    expect(await usage(good.jobId)).toEqual(['openai:invalid_output', 'openai:ok']);
  });

  it('a balance that cannot cover the estimate is refused permanently, with nothing sent', async () => {
    const { workspaceId } = await h.seedWorkspace({ balance: 50 });
    const w = await h.worker(h.deps());
    const done = await h.run(w, generateEmailContent, input(workspaceId));
    expect(done).toMatchObject({ state: 'failed', attempts: 1 });
    expect(done.reason).toMatch(/insufficient AI tokens: the call needs up to \d+ tokens, the workspace has 50 left/);
    expect(h.fake.requests).toHaveLength(0);
  });
});
