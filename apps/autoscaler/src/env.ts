import { boolEnv, loggingEnv, redisEnv, shardingEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';

/**
 * The autoscaler's environment (one zod schema, parsed once by main.ts). The DigitalOcean token
 * is a secret: it goes into the Authorization header and nowhere else (no log line, no metric, no
 * error message). For a dry run a read-only token (`app:read` scope) is enough.
 */
export const envSchema = z.object({
  ...redisEnv,
  ...loggingEnv,
  // the backlog of every shard, with the workers' key layout
  ...shardingEnv,
  NODE_ENV: z.string().optional().meta({ description: '`production` in deployments' }),
  DO_API_TOKEN: z.string().min(1).optional().meta({
    description: 'DigitalOcean API token (scopes app:read and app:update; app:read for --dry-run); required to scale',
    secret: true,
    deployRequired: true,
  }),
  DO_APP_ID: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'id of the App Platform app whose workers are scaled (`doctl apps list`); required to scale', deployRequired: true }),
  DO_API_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://api.digitalocean.com')
    .meta({ description: 'DigitalOcean API base URL (the emulator in development)' }),
  SCALER_CONFIG: z
    .string()
    .min(1)
    .default('scaling.json')
    .meta({ description: 'scaling rules file (JSON, per worker component: min, max, thresholds, cooldowns, step), relative to the app folder' }),
  SCALER_DRY_RUN: boolEnv(false).meta({ description: '`true` logs and prints the decisions and never updates the app spec' }),
  HEALTH_PORT: z.coerce.number().int().min(0).max(65535).default(9464).meta({ description: 'side port for /livez, /readyz and /metrics' }),
  HEALTH_HOST: z.string().default('0.0.0.0').meta({ description: 'bind address of the health port' }),
});

export type AutoscalerEnv = z.output<typeof envSchema>;
