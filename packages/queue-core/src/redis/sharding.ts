import { ConfigError } from '../definitions/errors.js';
import { QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { isClusterUrl } from './connections.js';

/**
 * Workspace sharding: one logical queue split into N Bull queues so that one workspace's backlog
 * cannot starve the others (a Bull queue is one FIFO per priority; nothing else interleaves
 * tenants, and `limiter.groupKey` must not be used: bull-v4.md §4).
 *
 * - Names: shard 0 keeps the queue's own name (`email`), shards 1..N-1 are `email-1`, `email-2`…
 *   With N = 1 nothing changes for existing deployments, and raising N later never strands the
 *   jobs, schedules and failed jobs already in `email`: shard 0 still consumes them. Lowering N
 *   strands shards ≥ N: drain them first (keep the old workers running until they are empty).
 * - Routing: a workspace job goes to `fnv1a(workspaceId) mod N`; a global job (no workspaceId) to
 *   shard 0. Stable across processes and releases, no Redis round trip, no allocation to speak of.
 * - Workers consume every shard with its own fetch loop; the queue's total concurrency is split
 *   over the shards (at least 1 each), so shards take turns by construction.
 *
 * Trade-off: fairness is between shards, not between workspaces. Two busy workspaces that hash to
 * the same shard still queue behind each other; with W busy workspaces and N shards a newcomer
 * shares its shard with about W/N of them. Pick N ≈ the number of workspaces that can hold a
 * large backlog at once (e.g. 4–8 for `email`), at most the queue's concurrency (each shard gets
 * at least one slot, so more shards than concurrency raises the effective concurrency), and
 * remember each shard costs one blocking Redis connection per worker process.
 */

export const MAX_SHARDS = 64;

/** FNV-1a, 32 bit, over the UTF-16 code units (ids are ASCII): stable everywhere, no allocation. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Shard of one job: workspace jobs by a stable hash of the workspace id, global jobs on 0. */
export function shardFor(workspaceId: string | undefined, shards: number): number {
  if (shards <= 1 || workspaceId === undefined || workspaceId === '') return 0;
  return fnv1a(workspaceId.toLowerCase()) % shards;
}

/** Bull queue name of one shard: `email` for shard 0, `email-3` for shard 3. */
export function shardQueueName(queue: QueueName, shard: number): string {
  return shard === 0 ? queue : `${queue}-${shard}`;
}

/** Every Bull queue name of a queue, shard 0 first. */
export function shardQueueNames(queue: QueueName, shards: number): string[] {
  return Array.from({ length: Math.max(1, shards) }, (_, i) => shardQueueName(queue, i));
}

/**
 * The queue's total concurrency spread over its shards, earlier shards first (5 over 2 → 3 + 2).
 * Every shard gets at least 1, so the effective total is max(concurrency, shards).
 */
export function splitConcurrency(concurrency: number, shards: number): number[] {
  const n = Math.max(1, shards);
  return Array.from({ length: n }, (_, i) => Math.max(1, Math.floor(concurrency / n) + (i < concurrency % n ? 1 : 0)));
}

export type ShardCounts = Partial<Record<QueueName, number>>;

/** Number of shards of a queue (default 1). */
export function shardsOf(counts: ShardCounts | undefined, queue: QueueName): number {
  return counts?.[queue] ?? 1;
}

/** `<QUEUE>_SHARDS` variable name of a queue. */
export const shardsVar = (queue: QueueName) => `${queue.toUpperCase()}_SHARDS`;

/**
 * `<QUEUE>_SHARDS` for every queue from an environment (unset or empty: 1). Producers, workers,
 * the CLI and the dashboard must all see the same values: a producer that routes to a shard no
 * worker consumes leaves jobs waiting.
 */
export function shardCountsFromEnv(source: Record<string, string | undefined> = process.env): ShardCounts {
  const counts: ShardCounts = {};
  const bad: string[] = [];
  for (const queue of QUEUE_NAMES) {
    const raw = source[shardsVar(queue)];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > MAX_SHARDS) bad.push(`${shardsVar(queue)}: expected an integer from 1 to ${MAX_SHARDS}, got "${raw}"`);
    else if (n > 1) counts[queue] = n;
  }
  if (bad.length > 0) throw new ConfigError(`invalid environment:\n${bad.join('\n')}`);
  return counts;
}

/**
 * Redis Cluster key layout on or off: on with a Redis Cluster `REDIS_URL` (`redis+cluster://…`,
 * `rediss+cluster://…`: Bull's scripts fail on a cluster without it), else `BULL_CLUSTER=true`, else
 * when the Bull prefix contains a hash tag (`{bull}`). `BULL_CLUSTER=false` with a cluster URL is a
 * ConfigError.
 */
export function clusterModeFromEnv(source: Record<string, string | undefined> = process.env, prefix?: string): boolean {
  const flag = source.BULL_CLUSTER;
  const explicit = flag !== undefined && flag !== '' ? ['true', '1', 'yes', 'TRUE'].includes(flag) : undefined;
  return clusterMode({ redisUrl: source.REDIS_URL ?? '', prefix: prefix ?? source.BULL_PREFIX ?? '', flag: explicit });
}

/** The same decision from parsed variables (a worker app's one env parse, env.ts `shardingEnv`). */
export function clusterMode(env: { redisUrl: string; prefix: string; flag: boolean | undefined }): boolean {
  if (isClusterUrl(env.redisUrl)) {
    if (env.flag === false) {
      throw new ConfigError(
        'invalid environment:\nBULL_CLUSTER: false contradicts REDIS_URL, a Redis Cluster URL (the cluster key layout is required there); unset BULL_CLUSTER',
      );
    }
    return true;
  }
  if (env.flag !== undefined) return env.flag;
  return env.prefix.includes('{');
}

/** `ShardCounts` from parsed `<QUEUE>_SHARDS` variables (1 is left out, as shardCountsFromEnv does). */
export function shardCountsOf(env: Readonly<Record<string, unknown>>): ShardCounts {
  const counts: ShardCounts = {};
  for (const queue of QUEUE_NAMES) {
    const n = env[shardsVar(queue)];
    if (typeof n === 'number' && n > 1) counts[queue] = n;
  }
  return counts;
}

/**
 * The prefix with a hash tag, for key families that Lua scripts or MULTI use together on a Redis
 * Cluster (the dead-letter store): `bull` → `{bull}`; a prefix that already holds a tag is kept.
 */
export function hashTaggedPrefix(prefix: string): string {
  const probe = `${prefix}:`;
  return hashTagOf(probe) === probe ? `{${prefix}}` : prefix;
}

/**
 * Key layout of one Bull queue: Bull's keys are `<prefix>:<name>:<suffix>` and every Lua script
 * touches the keys of one queue only. On Redis Cluster each Bull queue (shard) must live in one
 * hash slot while different shards should land on different slots (and so spread over nodes):
 * the prefix becomes the hash tag `{<prefix>-<name>}`, e.g. `{bull-email-1}:email-1:wait`.
 * Braces in the configured prefix are dropped first (`{bull}` and `bull` give the same layout).
 * Outside cluster mode the layout is Bull's own: `bull:email-1:wait`.
 */
export function bullKeyLayout(prefix: string, bullName: string, cluster: boolean): { prefix: string; name: string } {
  if (!cluster) return { prefix, name: bullName };
  const bare = prefix.replace(/[{}]/g, '') || 'bull';
  return { prefix: `{${bare}-${bullName}}`, name: bullName };
}

/** The hash tag Redis Cluster hashes for a key (the whole key when it has none). */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}
