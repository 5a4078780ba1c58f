import { calendarEnv } from '@coldcopy/calendar/env';
import { dbEnv, poolMaxEnv } from '@coldcopy/db/env';
import { tokenKeysEnv } from '@coldcopy/integration-tokens/env';
import { boolEnv, workerAppEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';

/**
 * The AI worker's own variables; runWorkerApp merges them with the shared worker variables
 * (REDIS_URL, BULL_PREFIX, AI_CONCURRENCY, HEALTH_PORT, JOB_ENCRYPTION_KEYS, …) and parses them in
 * main.ts. At least one provider key is required (checked in createDeps with the others).
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const provider = z.enum(['openai', 'anthropic']);

export const aiWorkerEnv = {
  ...dbEnv,
  DATABASE_POOL_MAX: poolMaxEnv(6, 'Postgres pool size per process; keep it near AI_CONCURRENCY'),

  AI_DEFAULT_PROVIDER: provider.default('openai').meta({ description: 'provider of a job whose payload and workspace name none (`settings.ai.provider`)' }),
  AI_FALLBACK: boolEnv(true).meta({ description: 'on 429, 529, 5xx, connection errors and timeouts, try the other provider when its key is set' }),
  LLM_TIMEOUT_MS: int(45_000).meta({ description: "per-request timeout; the job's 120 s budget aborts earlier calls, so leave room for a fallback" }),
  LLM_RATE_WAIT_MAX_MS: int(20_000, 0).meta({ description: 'longest in-handler wait for a provider slot; longer waits retry the job later' }),
  AI_STALE_HOLD_MS: int(1_800_000).meta({
    description: "a token hold untouched this long goes back to the workspace's balance (its job died and was never retried)",
  }),

  OPENAI_API_KEY: z.string().min(1).optional().meta({ description: 'OpenAI API key; unset disables OpenAI', secret: true }),
  OPENAI_BASE_URL: z.url().optional().meta({ description: 'e.g. `http://127.0.0.1:4010/v1` for the fake LLM server; unset for api.openai.com' }),
  OPENAI_MODEL: z
    .string()
    .min(1)
    .default('gpt-4.1-mini')
    .meta({ description: "default OpenAI model (a workspace's `settings.ai.model` or the job's `model` override it)" }),
  OPENAI_RPM: int(450, 0).meta({
    description: "requests per minute of the OpenAI key, shared by all replicas (0 = unlimited); set it a little below the account's limit",
  }),
  OPENAI_TPM: int(180_000, 0).meta({ description: 'tokens per minute of the OpenAI key, shared by all replicas (0 = unlimited)' }),
  OPENAI_MAX_CONCURRENT: int(20).meta({ description: 'concurrent OpenAI calls across all replicas' }),

  ANTHROPIC_API_KEY: z.string().min(1).optional().meta({ description: 'Anthropic API key; unset disables Anthropic', secret: true }),
  ANTHROPIC_BASE_URL: z.url().optional().meta({ description: 'e.g. `http://127.0.0.1:4010` for the fake LLM server (no `/v1`); unset for api.anthropic.com' }),
  ANTHROPIC_MODEL: z.string().min(1).default('claude-haiku-4-5').meta({ description: 'default Anthropic model' }),
  ANTHROPIC_RPM: int(45, 0).meta({ description: 'requests per minute of the Anthropic key, shared by all replicas (0 = unlimited)' }),
  ANTHROPIC_TPM: int(80_000, 0).meta({ description: 'tokens per minute of the Anthropic key, shared by all replicas (0 = unlimited)' }),
  ANTHROPIC_MAX_CONCURRENT: int(10).meta({ description: 'concurrent Anthropic calls across all replicas' }),

  // free/busy of connected calendars for extract-meeting-intent's proposed slots (the tokens the
  // integration worker stores, sealed with the same keys)
  ...tokenKeysEnv,
  ...calendarEnv,
  CALENDAR_TIMEOUT_MS: int(10_000).meta({ description: 'per-request timeout of a free/busy call; a failure means no proposed slots, never unchecked ones' }),
};

/** The one env schema main.ts hands to runWorkerApp and the deploy generator reads. */
export const envSchema = workerAppEnv('ai', aiWorkerEnv);
