import { randomUUID } from 'node:crypto';
import { closePool, createPool, loadDbEnv, type Pool } from '@coldcopy/db';
import type { AnyJobDefinition, JobInput } from '@coldcopy/queue-core';
import { JobSecurity } from '@coldcopy/queue-core/producer';
import { createRateLimiter, type Worker } from '@coldcopy/queue-core/runtime';
import { type AppTestBase, useAppTestBase, waitFor } from '@coldcopy/testing';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startFakeLlmServer, type FakeLlmServer } from '../fake-llm/server.js';
import { createLlmClients, type AiDeps } from '../src/deps.js';
import { handlers } from '../src/handlers/index.js';
import { createAiMetrics } from '../src/providers/ai-metrics.js';
import { createFakeFreeBusy, type BusyInterval } from '../src/providers/calendar.js';
import type { LlmProvider } from '../src/providers/llm-client.js';
import { createLlmRouter } from '../src/providers/llm-router.js';
import { createPgAiStore } from '../src/providers/pg-ai-store.js';
import { unlimitedProviderLimits, type ProviderLimits } from '../src/providers/provider-limits.js';
import { createRedisProviderLimits, type ProviderLimitSettings } from '../src/providers/redis-provider-limits.js';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from './keys.js';

export const testSecurity = () => new JobSecurity({ signingKeys: TEST_SIGNING_KEYS, encryptionKeys: TEST_ENCRYPTION_KEYS });

/**
 * One test database and one fake LLM server per file; a Bull/Redis prefix per test. Real adapters
 * (the official SDKs over a socket), the real Postgres store and Redis limits; only the calendar is
 * a fake (the integration worker will provide the real one).
 */
export function useAiHarness() {
  const state = {} as AppTestBase<Pool> & {
    fake: FakeLlmServer;
  };
  useAppTestBase(state, { openPool: (url) => createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '12' })), closePool, security: testSecurity });
  beforeAll(async () => {
    state.fake = await startFakeLlmServer();
  });
  afterAll(async () => {
    await state.fake?.close();
  });
  beforeEach(() => {
    state.fake.reset();
  });

  interface DepsOptions {
    providers?: readonly LlmProvider[];
    defaultProvider?: LlmProvider;
    fallback?: boolean;
    busy?: BusyInterval[];
    limits?: Partial<Record<LlmProvider, Omit<ProviderLimitSettings, 'apiKey'>>>;
    now?: () => Date;
  }

  function deps(options: DepsOptions = {}): AiDeps {
    const providers = options.providers ?? ['openai', 'anthropic'];
    const clients = createLlmClients({
      OPENAI_API_KEY: providers.includes('openai') ? 'test-openai' : undefined,
      OPENAI_BASE_URL: state.fake.openaiBaseUrl,
      ANTHROPIC_API_KEY: providers.includes('anthropic') ? 'test-anthropic' : undefined,
      ANTHROPIC_BASE_URL: state.fake.anthropicBaseUrl,
    });
    let limits: ProviderLimits = unlimitedProviderLimits;
    if (options.limits) {
      limits = createRedisProviderLimits({
        redis: state.redis,
        limiter: createRateLimiter(state.redis, { prefix: `${state.prefix}:ai:rate` }),
        prefix: `${state.prefix}:ai`,
        providers: Object.fromEntries(Object.entries(options.limits).map(([p, s]) => [p, { ...s, apiKey: `test-${p}` }])),
        maxWaitMs: 5000,
      });
      state.defer(() => limits.close());
    }
    return {
      store: createPgAiStore(state.pool, { staleHoldMs: 1_800_000 }),
      llm: createLlmRouter({
        clients,
        models: { openai: 'gpt-4.1-mini', anthropic: 'claude-haiku-4-5' },
        defaultProvider: options.defaultProvider ?? providers[0]!,
        fallback: options.fallback ?? true,
        limits,
      }),
      calendar: createFakeFreeBusy(options.busy),
      metrics: createAiMetrics(),
      config: { timeoutMs: 5000 },
      now: options.now ?? (() => new Date()),
    };
  }

  function worker(d: AiDeps, concurrency = 3): Promise<Worker> {
    return state.startWorker({ queue: 'ai', handlers, deps: d, concurrency });
  }

  /** Enqueues through the real producer and waits for the outcome. */
  async function run<J extends AnyJobDefinition>(
    w: Worker,
    def: J,
    input: JobInput<J>,
  ): Promise<{ state: 'completed' | 'failed'; value: any; reason: string; attempts: number; jobId: string }> {
    const { id } = await state.producer.enqueue(def, input);
    // its fields are read after its state: never older than it
    const job = await waitFor(
      async () => {
        const j = await w.inspect.job<any>(id);
        return j?.state === 'completed' || j?.state === 'failed' ? { ...j, state: j.state } : false;
      },
      { timeoutMs: 120_000, intervalMs: 20, what: `job ${id} settled` },
    );
    return job.state === 'completed'
      ? { state: 'completed', value: job.returnValue, reason: '', attempts: job.attemptsMade, jobId: id }
      : { state: 'failed', value: undefined, reason: job.failedReason ?? '', attempts: job.attemptsMade, jobId: id };
  }

  async function seedWorkspace(options: { balance?: number; settings?: Record<string, unknown> } = {}): Promise<{ workspaceId: string; leadId: string }> {
    const workspaceId = randomUUID();
    await state.pool.query(`INSERT INTO workspaces (id, name, slug, status, settings, ai_tokens_balance) VALUES ($1, 'AI test', $2, 'active', $3, $4)`, [
      workspaceId,
      `ai-${workspaceId.slice(0, 8)}`,
      options.settings ?? {},
      options.balance ?? 1_000_000,
    ]);
    const { rows } = await state.pool.query<{ id: string }>(
      `INSERT INTO leads (workspace_id, email, first_name, last_name, company, title, industry)
       VALUES ($1, $2, 'Dana', 'Reyes', 'Northwind', 'Head of Sales', 'Logistics') RETURNING id`,
      [workspaceId, `dana.${workspaceId.slice(0, 8)}@northwind.example`],
    );
    return { workspaceId, leadId: rows[0]!.id };
  }

  async function balance(workspaceId: string): Promise<{ balance: number; used: number }> {
    const { rows } = await state.pool.query('SELECT ai_tokens_balance, ai_tokens_used FROM workspaces WHERE id = $1', [workspaceId]);
    return { balance: Number(rows[0].ai_tokens_balance), used: Number(rows[0].ai_tokens_used) };
  }

  return Object.assign(state, { deps, worker, run, seedWorkspace, balance });
}
