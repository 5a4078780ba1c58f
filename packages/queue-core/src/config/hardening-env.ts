import { z } from 'zod';
import { createAlertNotifier, type AlertNotifier } from '../observability/alert-webhook.js';
import { DLQ_DEFAULTS, type DeadLetterBounds } from '../dead-letters/store.js';
import { ConfigError } from '../definitions/errors.js';
import { jobSecurityFromEnv, type JobSecurity } from '../security/job-security.js';

/**
 * Worker variables for signed jobs, encrypted fields and dead letters. Parsed apart from the app
 * schema: the key variables are validated by job-security.ts, whose messages never print a secret.
 *
 *   JOB_SIGNING_KEYS      kid:base64[,oldkid:base64]   required unless JOB_SIGNING=disabled
 *   JOB_ENCRYPTION_KEYS   kid:base64 (32 bytes)[,…]    required by workers of jobs with sensitive fields
 *   JOB_SIGNING           enabled | disabled           disabled is refused with NODE_ENV=production
 *   ALERT_WEBHOOK_URL     Slack-compatible webhook for dead-letter alerts (optional)
 *   ALERT_WINDOW_SECONDS  aggregation window of those alerts (default 60)
 *   DLQ_MAX_ENTRIES       dead-letter bound per queue (default 10000)
 *   DLQ_MAX_AGE_DAYS      dead-letter bound (default 30)
 */
const schema = z.object({
  ALERT_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  ALERT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  DLQ_MAX_ENTRIES: z.coerce.number().int().min(1).max(1_000_000).default(DLQ_DEFAULTS.maxEntries),
  DLQ_MAX_AGE_DAYS: z.coerce.number().positive().max(365).default(DLQ_DEFAULTS.maxAgeMs / 86_400_000),
});

export interface HardeningConfig {
  readonly security: JobSecurity;
  readonly deadLetters: DeadLetterBounds;
  /** set when ALERT_WEBHOOK_URL is */
  readonly alerts: AlertNotifier | undefined;
}

export function loadHardeningEnv(
  source: Record<string, string | undefined>,
  tools: { warn: (message: string) => void; onAlertError: (err: Error) => void; app: string },
): HardeningConfig {
  const security = jobSecurityFromEnv(source, tools.warn);
  const picked = Object.fromEntries(Object.entries(source).filter(([k, v]) => k in schema.shape && v !== undefined && v !== ''));
  const parsed = schema.safeParse(picked);
  if (!parsed.success) throw new ConfigError(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  const env = parsed.data;
  return {
    security,
    deadLetters: { maxEntries: env.DLQ_MAX_ENTRIES, maxAgeMs: Math.round(env.DLQ_MAX_AGE_DAYS * 86_400_000) },
    alerts: env.ALERT_WEBHOOK_URL
      ? createAlertNotifier({ url: env.ALERT_WEBHOOK_URL, windowMs: env.ALERT_WINDOW_SECONDS * 1000, source: tools.app, onError: tools.onAlertError })
      : undefined,
  };
}
