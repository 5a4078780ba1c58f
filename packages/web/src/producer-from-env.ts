import { loadEnv, redisEnv } from '@coldcopy/queue-core/env';
import { getProducer, type Producer } from '@coldcopy/queue-core/producer';
import { z } from 'zod';

const settingsSchema = z.object(redisEnv);
let parsed: { url: string | undefined; prefix: string | undefined; settings: z.output<typeof settingsSchema> } | undefined;

/**
 * The process-wide producer for `REDIS_URL` and `BULL_PREFIX` (defaults `redis://127.0.0.1:6379`
 * and `bull`), kept on `globalThis` by `getProducer` so Next.js hot reload reuses its connections.
 * Signing keys, shard counts and the cluster layout come from the same environment (the producer's
 * defaults). A bad variable throws a `ConfigError` naming it (never the password).
 */
export function producerFromEnv(env: Record<string, string | undefined> = process.env): Producer {
  const url = env.REDIS_URL;
  const prefix = env.BULL_PREFIX;
  // parse once per distinct setting, not on every request
  if (parsed === undefined || parsed.url !== url || parsed.prefix !== prefix) {
    parsed = { url, prefix, settings: loadEnv(settingsSchema, { REDIS_URL: url, BULL_PREFIX: prefix }) };
  }
  const { settings } = parsed;
  return getProducer({ redisUrl: settings.REDIS_URL, prefix: settings.BULL_PREFIX });
}
