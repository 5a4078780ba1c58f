import { createCalendarAccess } from '@coldcopy/calendar';
import { closePool, createPool, dbConfig, type Pool } from '@coldcopy/db';
import { createTokenCipher } from '@coldcopy/integration-tokens';
import { createRateLimiter, RedisConnections, type WorkerAppTools, type WorkerEnv } from '@coldcopy/queue-core/runtime';
import type { Redis } from 'ioredis';
import type { aiWorkerEnv } from './env.js';
import { createAiMetrics, type AiMetrics } from './providers/ai-metrics.js';
import type { AiStore } from './providers/ai-store.js';
import { createAnthropicLlmClient, createAnthropicSdk } from './providers/anthropic-llm-client.js';
import type { CalendarFreeBusy } from './providers/calendar.js';
import type { LlmClient, LlmProvider } from './providers/llm-client.js';
import { createLlmRouter, type LlmRouter } from './providers/llm-router.js';
import { createOpenAiLlmClient, createOpenAiSdk } from './providers/openai-llm-client.js';
import { createPgAiStore } from './providers/pg-ai-store.js';
import type { ProviderLimits } from './providers/provider-limits.js';
import { createRedisProviderLimits, type ProviderLimitSettings } from './providers/redis-provider-limits.js';

/** Everything the handlers use. Built here (the only file naming real SDKs) or from fakes in tests. */
export interface AiDeps {
  readonly store: AiStore;
  readonly llm: LlmRouter;
  /** free/busy of the workspace's connected calendars, for meeting slots */
  readonly calendar: CalendarFreeBusy;
  readonly metrics: AiMetrics;
  readonly config: { readonly timeoutMs: number };
  readonly now: () => Date;
}

export type AiEnv = WorkerEnv<'ai', typeof aiWorkerEnv>;

const owned = new WeakMap<AiDeps, { pool: Pool; connections: RedisConnections; limits: ProviderLimits }>();

/** The provider clients whose keys are set (the real SDKs, retries off). */
export function createLlmClients(
  env: Pick<AiEnv, 'OPENAI_API_KEY' | 'OPENAI_BASE_URL' | 'ANTHROPIC_API_KEY' | 'ANTHROPIC_BASE_URL'>,
): Partial<Record<LlmProvider, LlmClient>> {
  return {
    ...(env.OPENAI_API_KEY ? { openai: createOpenAiLlmClient(createOpenAiSdk({ apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL })) } : {}),
    ...(env.ANTHROPIC_API_KEY
      ? { anthropic: createAnthropicLlmClient(createAnthropicSdk({ apiKey: env.ANTHROPIC_API_KEY, baseURL: env.ANTHROPIC_BASE_URL })) }
      : {}),
  };
}

export function providerLimitSettings(env: AiEnv): Partial<Record<LlmProvider, ProviderLimitSettings>> {
  return {
    ...(env.OPENAI_API_KEY
      ? { openai: { apiKey: env.OPENAI_API_KEY, rpm: env.OPENAI_RPM, tpm: env.OPENAI_TPM, maxConcurrent: env.OPENAI_MAX_CONCURRENT } }
      : {}),
    ...(env.ANTHROPIC_API_KEY
      ? { anthropic: { apiKey: env.ANTHROPIC_API_KEY, rpm: env.ANTHROPIC_RPM, tpm: env.ANTHROPIC_TPM, maxConcurrent: env.ANTHROPIC_MAX_CONCURRENT } }
      : {}),
  };
}

export async function createDeps(env: AiEnv, tools: WorkerAppTools): Promise<AiDeps> {
  const clients = createLlmClients(env);
  if (!clients[env.AI_DEFAULT_PROVIDER]) {
    throw new Error(
      `AI_DEFAULT_PROVIDER is ${env.AI_DEFAULT_PROVIDER} but ${env.AI_DEFAULT_PROVIDER === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY'} is not set`,
    );
  }
  const pool = createPool(dbConfig(env, 'coldcopy-ai-worker'));
  // the limits' own connection: their scripts run before every provider call
  const connections = new RedisConnections(env.REDIS_URL, 'worker', 'coldcopy-ai-worker-limits');
  const redis = connections.commandClient as Redis;
  const limits = createRedisProviderLimits({
    redis,
    limiter: createRateLimiter(connections.commandClient, { prefix: `${env.BULL_PREFIX}:ai:rate` }),
    prefix: `${env.BULL_PREFIX}:ai`,
    providers: providerLimitSettings(env),
    maxWaitMs: env.LLM_RATE_WAIT_MAX_MS,
  });
  const deps: AiDeps = {
    store: createPgAiStore(pool, { staleHoldMs: env.AI_STALE_HOLD_MS }),
    llm: createLlmRouter({
      clients,
      models: { openai: env.OPENAI_MODEL, anthropic: env.ANTHROPIC_MODEL },
      defaultProvider: env.AI_DEFAULT_PROVIDER,
      fallback: env.AI_FALLBACK,
      limits,
    }),
    calendar: createCalendarAccess({
      pool,
      redis,
      // the integration worker's prefix: a token refresh stays one at a time across both apps
      prefix: `${env.BULL_PREFIX}:integration`,
      cipher: createTokenCipher(env.INTEGRATION_TOKEN_KEYS),
      env: { ...env, PROVIDER_TIMEOUT_MS: env.CALENDAR_TIMEOUT_MS, PROVIDER_WAIT_MAX_MS: 0 },
      refreshAheadMs: env.TOKEN_REFRESH_AHEAD_SECONDS * 1000,
      lockMs: env.TOKEN_REFRESH_LOCK_MS,
    }).freeBusy,
    metrics: createAiMetrics(tools.registry),
    config: { timeoutMs: env.LLM_TIMEOUT_MS },
    now: () => new Date(),
  };
  owned.set(deps, { pool, connections, limits });
  return deps;
}

export async function closeDeps(deps: AiDeps): Promise<void> {
  const state = owned.get(deps);
  if (!state) return;
  await state.limits.close();
  await state.connections.close();
  await closePool(state.pool);
}
