import { z } from 'zod';
import { createAlertNotifier, type AlertNotifier } from '../observability/alert-webhook.js';
import type { DeadLetterBounds } from '../dead-letters/store.js';
import { deadLetterEnv, loadEnv, signingEnv } from './env.js';
import { jobSecurityFromConfig, type JobSecurity } from '../security/job-security.js';

/**
 * The worker's signed jobs, encrypted fields and dead letters, built from the variables of the
 * `signingEnv` and `deadLetterEnv` fragments (env.ts) once the app's schema has parsed them.
 */
export interface HardeningConfig {
  readonly security: JobSecurity;
  readonly deadLetters: DeadLetterBounds;
  /** set when ALERT_WEBHOOK_URL is */
  readonly alerts: AlertNotifier | undefined;
}

const hardeningSchema = z.object({ ...signingEnv, ...deadLetterEnv });
export type HardeningEnv = z.output<typeof hardeningSchema>;

export interface HardeningTools {
  readonly warn: (message: string) => void;
  readonly onAlertError: (err: Error) => void;
  readonly app: string;
}

/** From parsed variables (the app's one env parse). Throws ConfigError for bad or missing keys. */
export function hardeningFromEnv(env: HardeningEnv, tools: HardeningTools): HardeningConfig {
  return {
    security: jobSecurityFromConfig(env, tools.warn),
    deadLetters: { maxEntries: env.DLQ_MAX_ENTRIES, maxAgeMs: Math.round(env.DLQ_MAX_AGE_DAYS * 86_400_000) },
    alerts: env.ALERT_WEBHOOK_URL
      ? createAlertNotifier({ url: env.ALERT_WEBHOOK_URL, windowMs: env.ALERT_WINDOW_SECONDS * 1000, source: tools.app, onError: tools.onAlertError })
      : undefined,
  };
}

/** Parses just these variables from `source` (tools and tests that have no app schema). */
export function loadHardeningEnv(source: Record<string, string | undefined>, tools: HardeningTools): HardeningConfig {
  return hardeningFromEnv(loadEnv(hardeningSchema, source), tools);
}
