import { readFileSync } from 'node:fs';
import { ConfigError, isQueueName, type QueueName } from '@coldcopy/queue-core';
import { z } from 'zod';

/**
 * The scaling rules (scaling.json, or the file SCALER_CONFIG names): one entry per App Platform
 * worker component. Defaults are the seed's rules: add instances when the queue's backlog passes
 * 1,000 jobs, remove them when it stays below 100 for 10 minutes, never above `max`.
 */
const workerRule = z
  .object({
    /** the queue whose backlog (every shard) drives this component */
    queue: z.string().refine(isQueueName, 'not one of the six queues'),
    min: z.number().int().min(1).max(250),
    max: z.number().int().min(1).max(250),
    /** scale up when the backlog (waiting jobs, all shards) is above this */
    scaleUpBacklog: z.number().int().min(1).default(1000),
    /** …or when the next job has waited longer than this (seconds); unset: backlog only */
    scaleUpOldestAgeSeconds: z.number().int().min(1).optional(),
    /** scale down when the backlog stays below this… */
    scaleDownBacklog: z.number().int().min(0).default(100),
    /** …for this long (seconds) */
    scaleDownHoldSeconds: z.number().int().min(0).default(600),
    /** seconds after any change of this component before it scales up again */
    scaleUpCooldownSeconds: z.number().int().min(0).default(300),
    /** seconds after any change of this component before it scales down */
    scaleDownCooldownSeconds: z.number().int().min(0).default(600),
    /** instances added or removed per change */
    step: z.number().int().min(1).max(50).default(1),
    /**
     * Kubernetes only: the queue's `<QUEUE>_SHARDS` there, so the generated KEDA ScaledObject
     * watches every shard's wait list (this scaler reads every shard the environment names)
     */
    shards: z.number().int().min(1).max(64).default(1),
  })
  .strict()
  .refine((r) => r.min <= r.max, 'min must not exceed max')
  .refine((r) => r.scaleDownBacklog < r.scaleUpBacklog, 'scaleDownBacklog must be below scaleUpBacklog (hysteresis)');

export const scalingConfigSchema = z
  .object({
    /** seconds between two reads of the backlog */
    intervalSeconds: z.number().int().min(5).max(3600).default(30),
    /** component name in the app spec → its rule */
    workers: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'a DO component name'), workerRule),
  })
  .strict();

export type WorkerRule = z.output<typeof workerRule> & { readonly queue: QueueName };
export interface ScalingConfig {
  readonly intervalSeconds: number;
  readonly workers: Readonly<Record<string, WorkerRule>>;
}

/** Parses a scaling config object, or throws a ConfigError naming what is wrong. */
export function parseScalingConfig(input: unknown, where = 'scaling config'): ScalingConfig {
  const parsed = scalingConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`${where}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function loadScalingConfig(path: string): ScalingConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  return parseScalingConfig(raw, path);
}
