import { generateEmailContent } from '@coldcopy/queue-core';
import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { emailContentPrompt, estimateTokens } from '../src/domain/prompts.js';
import { EMAIL_MAX_OUTPUT_TOKENS } from '../src/handlers/generate-email-content.js';
import { useAiHarness } from './harness.js';
import { spawnWorkerApp, type WorkerAppProcess } from '@coldcopy/testing';

const APP_DIR = new URL('..', import.meta.url);

/**
 * Exact budgets: 50 concurrent generate-email-content jobs of one workspace whose balance covers
 * 20. The fake reports exactly the estimate as usage, so a job costs what it holds and exactly 20
 * can succeed, whatever the interleaving: the balance ends at its remainder to the token.
 */
const h = useAiHarness();
const USER = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
const JOBS = 50;
const AFFORDABLE = 20;
const patient = { timeoutMs: 120_000, intervalMs: 250 };

/** The hold of one job: every job has the same prompt (same lead profile and context). */
function holdPerJob(): number {
  const user = emailContentPrompt.render({
    leadName: 'Dana',
    company: 'Northwind',
    title: 'Head of Sales',
    industry: 'Logistics',
    campaignGoal: 'book a demo',
    tone: 'professional',
    length: 'medium',
    stepNumber: undefined,
    senderName: undefined,
  });
  return estimateTokens(emailContentPrompt.system, user, EMAIL_MAX_OUTPUT_TOKENS.medium);
}

async function seedFifty(balance: number) {
  const { workspaceId } = await h.seedWorkspace({ balance });
  const { rows } = await h.pool.query<{ id: string }>(
    `INSERT INTO leads (workspace_id, email, first_name, company, title, industry)
     SELECT $1, 'lead' || g || '@northwind.example', 'Dana', 'Northwind', 'Head of Sales', 'Logistics' FROM generate_series(1, $2) g
     RETURNING id`,
    [workspaceId, JOBS],
  );
  return { workspaceId, leadIds: rows.map((r) => r.id) };
}

const payload = (workspaceId: string, leadId: string) => ({
  workspaceId,
  userId: USER,
  leadId,
  context: { leadName: 'Dana', company: 'Northwind', title: 'Head of Sales', campaignGoal: 'book a demo' },
});

async function outcome(workspaceId: string) {
  const drafts = Number((await h.pool.query('SELECT count(*) AS n FROM ai_generated_drafts WHERE workspace_id = $1', [workspaceId])).rows[0].n);
  const calls = (
    await h.pool.query(
      `SELECT outcome, count(*)::int AS n, sum(input_tokens + output_tokens)::bigint AS tokens FROM ai_usage_logs WHERE workspace_id = $1 GROUP BY outcome`,
      [workspaceId],
    )
  ).rows;
  const held = Number(
    (await h.pool.query(`SELECT coalesce(sum(held_tokens), 0) AS n FROM ai_token_reservations WHERE workspace_id = $1`, [workspaceId])).rows[0].n,
  );
  return { drafts, calls, held, ...(await h.balance(workspaceId)) };
}

describe('exact budgets', () => {
  it('50 concurrent jobs with a balance for 20: exactly 20 succeed, the rest are refused, the balance ends exact', async () => {
    const E = holdPerJob();
    const initial = AFFORDABLE * E + (E - 1);
    const { workspaceId, leadIds } = await seedFifty(initial);
    h.fake.configure({ latencyMs: 50, usage: { input: E - EMAIL_MAX_OUTPUT_TOKENS.medium, output: EMAIL_MAX_OUTPUT_TOKENS.medium } });
    // two workers on one queue, 25 jobs in flight at once
    const d = h.deps({ providers: ['openai'] });
    const [w] = await Promise.all([h.worker(d, 15), h.worker(d, 10)]);
    const ids = await Promise.all(leadIds.map((leadId) => h.producer.enqueue(generateEmailContent, payload(workspaceId, leadId)).then((j) => j.id)));
    const jobs = await waitFor(
      async () => {
        const all = await Promise.all(ids.map((id) => w.inspect.job(id)));
        return all.every((j) => j!.state === 'completed' || j!.state === 'failed') ? all.map((j) => ({ state: j!.state, reason: j!.failedReason })) : false;
      },
      { ...patient, what: 'all 50 jobs settled' },
    );
    const refused = jobs.filter((j) => j.state === 'failed');
    expect(jobs.filter((j) => j.state === 'completed')).toHaveLength(AFFORDABLE);
    expect(refused).toHaveLength(JOBS - AFFORDABLE);
    for (const r of refused) expect(r.reason).toMatch(/insufficient AI tokens/);
    expect(await outcome(workspaceId)).toEqual({
      drafts: AFFORDABLE,
      calls: [{ outcome: 'ok', n: AFFORDABLE, tokens: String(AFFORDABLE * E) }],
      held: 0,
      balance: E - 1,
      used: AFFORDABLE * E,
    });
    expect(h.fake.requests).toHaveLength(AFFORDABLE);
  });

  it('kill -9 during the run: after a restart exactly 20 succeed and nothing is deducted twice', async () => {
    const E = holdPerJob();
    const initial = AFFORDABLE * E + (E - 1);
    const { workspaceId, leadIds } = await seedFifty(initial);
    h.fake.configure({ latencyMs: 400, usage: { input: E - EMAIL_MAX_OUTPUT_TOKENS.medium, output: EMAIL_MAX_OUTPUT_TOKENS.medium } });
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: h.prefix,
      DATABASE_URL: h.db.url,
      DATABASE_POOL_MAX: '6',
      AI_CONCURRENCY: '6',
      OPENAI_API_KEY: 'test-openai',
      OPENAI_BASE_URL: h.fake.openaiBaseUrl,
      OPENAI_RPM: '0',
      OPENAI_TPM: '0',
      LOCK_DURATION_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
    };
    let first: WorkerAppProcess | undefined = await spawnWorkerApp(APP_DIR, env);
    let second: WorkerAppProcess | undefined;
    const admin = openAdminQueues({ redisUrl: inject('redisUrl'), prefix: h.prefix });
    try {
      const ids = await Promise.all(leadIds.map((leadId) => h.producer.enqueue(generateEmailContent, payload(workspaceId, leadId)).then((j) => j.id)));
      // kill while calls are in flight: some drafts stored, some holds taken and not settled
      // (both at once: a poll that first sees six drafts may come when the last holds are settled)
      await waitFor(
        async () => {
          const o = await outcome(workspaceId);
          return (o.drafts >= 6 && o.held > 0) || false;
        },
        { ...patient, intervalMs: 50, what: 'six drafts and a job holding tokens before the kill' },
      );
      first.child.kill('SIGKILL');
      await first.exited;
      first = undefined;
      const atKill = await outcome(workspaceId);
      expect(atKill.held).toBeGreaterThan(0); // jobs died holding tokens

      second = await spawnWorkerApp(APP_DIR, env);
      const states = await waitFor(
        async () => {
          const jobs = await Promise.all(ids.map((id) => admin.shardsOf('ai')[0]!.inspect.job(id)));
          const s = jobs.map((j) => j!.state);
          return s.every((x) => x === 'completed' || x === 'failed') ? s : false;
        },
        { ...patient, what: 'every job settled after the restart' },
      );
      expect(states.filter((s) => s === 'completed')).toHaveLength(AFFORDABLE);
      const end = await outcome(workspaceId);
      expect(end).toMatchObject({ drafts: AFFORDABLE, held: 0, balance: E - 1, used: AFFORDABLE * E });
      expect(end.calls).toEqual([{ outcome: 'ok', n: AFFORDABLE, tokens: String(AFFORDABLE * E) }]);
      // the provider saw more calls than were charged: those of the killed process that never came back
      expect(h.fake.requests.length).toBeGreaterThanOrEqual(AFFORDABLE);
    } finally {
      first?.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
      await admin.close();
    }
  });
});
