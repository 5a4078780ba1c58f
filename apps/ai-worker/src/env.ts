import { boolEnv } from '@coldcopy/queue-core/runtime';
import { z } from 'zod';

/**
 * The AI worker's own variables; runWorkerApp merges them with the shared worker variables
 * (REDIS_URL, BULL_PREFIX, AI_CONCURRENCY, HEALTH_PORT, JOB_ENCRYPTION_KEYS, …) and parses them in
 * main.ts. At least one provider key is required (checked in createDeps with the others).
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);
const provider = z.enum(['openai', 'anthropic']);

export const aiWorkerEnv = {
  /** `postgres://user:password@host:5432/database` */
  DATABASE_URL: z.string().min(1, 'required (postgres://user:password@host:5432/database)'),
  /** Postgres pool size per process; keep it near AI_CONCURRENCY */
  DATABASE_POOL_MAX: int(6),
  /** `disable`, `require` or `verify-full` (read by @coldcopy/db) */
  DATABASE_SSL: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM of the managed database's CA (read by @coldcopy/db) */
  DATABASE_CA_CERT: z.string().optional(),

  /** provider of a job whose payload and workspace name none (`settings.ai.provider`) */
  AI_DEFAULT_PROVIDER: provider.default('openai'),
  /** on 429, 529, 5xx, connection errors and timeouts, try the other provider when its key is set */
  AI_FALLBACK: boolEnv(true),
  /** per-request timeout; the job's 120 s budget aborts earlier calls, so leave room for a fallback */
  LLM_TIMEOUT_MS: int(45_000),
  /** longest in-handler wait for a provider slot; longer waits retry the job later */
  LLM_RATE_WAIT_MAX_MS: int(20_000, 0),
  /** a token hold untouched this long goes back to the workspace's balance (its job died and was never retried) */
  AI_STALE_HOLD_MS: int(1_800_000),

  /** OpenAI API key; unset disables OpenAI */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** e.g. `http://127.0.0.1:4010/v1` for the fake LLM server; unset for api.openai.com */
  OPENAI_BASE_URL: z.url().optional(),
  /** default OpenAI model (a workspace's `settings.ai.model` or the job's `model` override it) */
  OPENAI_MODEL: z.string().min(1).default('gpt-4.1-mini'),
  /** requests per minute of the OpenAI key, shared by all replicas (0 = unlimited); set it a little below the account's limit */
  OPENAI_RPM: int(450, 0),
  /** tokens per minute of the OpenAI key, shared by all replicas (0 = unlimited) */
  OPENAI_TPM: int(180_000, 0),
  /** concurrent OpenAI calls across all replicas */
  OPENAI_MAX_CONCURRENT: int(20),

  /** Anthropic API key; unset disables Anthropic */
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  /** e.g. `http://127.0.0.1:4010` for the fake LLM server (no `/v1`); unset for api.anthropic.com */
  ANTHROPIC_BASE_URL: z.url().optional(),
  /** default Anthropic model */
  ANTHROPIC_MODEL: z.string().min(1).default('claude-haiku-4-5'),
  /** requests per minute of the Anthropic key, shared by all replicas (0 = unlimited) */
  ANTHROPIC_RPM: int(45, 0),
  /** tokens per minute of the Anthropic key, shared by all replicas (0 = unlimited) */
  ANTHROPIC_TPM: int(80_000, 0),
  /** concurrent Anthropic calls across all replicas */
  ANTHROPIC_MAX_CONCURRENT: int(10),
};
