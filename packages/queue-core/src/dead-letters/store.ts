import type Bull from 'bull';
import { createBullQueue } from '../redis/bull-queue.js';
import type { JobSecurity } from '../security/job-security.js';
import { corruptionOf, SIGNATURE_OPTION } from '../security/job-security.js';
import { isQueueName, QUEUE_NAMES, type QueueName } from '../definitions/queues.js';
import { RedisConnections, type RedisClient } from '../redis/connections.js';
import { clusterModeFromEnv, hashTaggedPrefix } from '../redis/sharding.js';

/**
 * The dead-letter store: jobs that failed for the last time (retries spent, permanent error,
 * invalid payload, bad signature), kept under `<prefix>:dlq:` for operators to list, inspect,
 * replay and purge (`pnpm jobs dlq …`).
 *
 * Keys: `<prefix>:dlq:index` (sorted set of entry ids by dead-letter time), `<prefix>:dlq:q:<queue>`
 * (the same per queue, for cheap per-queue counts) and `<prefix>:dlq:e:<queue>:<jobId>` (the entry
 * as JSON, with a TTL of the maximum age). Bounded twice: every add trims entries older than
 * `maxAgeMs` and the oldest beyond `maxEntries` in the same script (O(log n) per add), and the TTL
 * removes entries even if no add ever runs again. The data is kept exactly as stored in Bull:
 * sensitive fields stay encrypted. Written only on final failure, never on the success path.
 *
 * On a Redis Cluster client the base carries a hash tag (`{bull}:dlq:…`, sharding.ts
 * `hashTaggedPrefix`): the add script, the MULTIs and MGET touch index, per-queue sets and entries
 * together, so they must share one slot. A prefix that already has a tag (`{bull}`) is kept as is,
 * so `bull` and `{bull}` give the same keys there.
 */

export const DLQ_DEFAULTS = { maxEntries: 10_000, maxAgeMs: 30 * 24 * 3600 * 1000 } as const;

export interface DeadLetterEntry {
  /** `<queue>:<jobId>` */
  readonly id: string;
  readonly queue: QueueName;
  readonly jobName: string;
  readonly jobId: string;
  /** as stored in Redis: sensitive fields are still `enc:v1:…` envelopes */
  readonly data: unknown;
  /** the Bull options a replay reuses (attempts, backoff, priority, retention, timeout) */
  readonly opts: Record<string, unknown>;
  /** the original signature, checked before a replay re-signs the job */
  readonly signature?: string;
  /**
   * The options the original signature binds besides the id (delay, and a schedule run's repeat
   * rule, which a replay does not reuse), so that the replay can check it (job-binding.ts).
   */
  readonly signedOpts?: Record<string, unknown>;
  readonly workspaceId?: string;
  readonly error: { readonly name: string; readonly message: string; readonly stack?: string };
  readonly attemptsMade: number;
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
  /**
   * A poison job (its stored data or options were not valid JSON): both fields exactly as stored
   * in Redis. Such an entry is kept for inspection and never replayed.
   */
  readonly stored?: { readonly data?: string; readonly opts?: string };
}

export interface DeadLetterFilter {
  readonly queue?: QueueName;
  readonly jobName?: string;
  /** only entries dead-lettered at least this long ago */
  readonly olderThanMs?: number;
  /** newest first; default all (bounded by maxEntries) */
  readonly limit?: number;
}

export interface DeadLetterBounds {
  /** per queue */
  readonly maxEntries?: number;
  readonly maxAgeMs?: number;
}

const ADD_SCRIPT = `
local now = tonumber(ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZADD', KEYS[2], now, ARGV[1])
local removed = 0
local function drop(member)
  local q = string.match(member, '^([^:]+):')
  redis.call('DEL', ARGV[6] .. member)
  if q then redis.call('ZREM', ARGV[7] .. q, member) end
  redis.call('ZREM', KEYS[1], member)
  removed = removed + 1
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[5], 'LIMIT', 0, 100)) do drop(m) end
-- the count bound is per queue: a flood of one queue's failures never evicts another's entries
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[8])
if excess > 0 then
  if excess > 1000 then excess = 1000 end
  for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do drop(m) end
end
return removed
`;

export class DeadLetterStore {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  private readonly base: string;

  constructor(
    readonly client: RedisClient,
    readonly prefix: string,
    bounds: DeadLetterBounds = {},
  ) {
    this.base = `${client.isCluster ? hashTaggedPrefix(prefix) : prefix}:dlq`;
    this.maxEntries = bounds.maxEntries ?? DLQ_DEFAULTS.maxEntries;
    this.maxAgeMs = bounds.maxAgeMs ?? DLQ_DEFAULTS.maxAgeMs;
  }

  static entryId(queue: string, jobId: string): string {
    return `${queue}:${jobId}`;
  }

  /** Adds (or replaces) an entry and trims the store; resolves to the number of entries trimmed. */
  async add(entry: DeadLetterEntry, now = Date.now()): Promise<number> {
    const removed = await this.client.eval(
      ADD_SCRIPT,
      3,
      `${this.base}:index`,
      `${this.base}:q:${entry.queue}`,
      `${this.base}:e:${entry.id}`,
      entry.id,
      String(now),
      JSON.stringify(entry),
      String(this.maxAgeMs),
      String(now - this.maxAgeMs),
      `${this.base}:e:`,
      `${this.base}:q:`,
      String(this.maxEntries),
    );
    return Number(removed);
  }

  async get(id: string): Promise<DeadLetterEntry | undefined> {
    const raw = await this.client.get(`${this.base}:e:${id}`);
    return raw ? (JSON.parse(raw) as DeadLetterEntry) : undefined;
  }

  /** Newest first. Reads at most maxEntries entries, in chunks of 500. */
  async list(filter: DeadLetterFilter = {}, now = Date.now()): Promise<DeadLetterEntry[]> {
    const index = filter.queue ? `${this.base}:q:${filter.queue}` : `${this.base}:index`;
    const max = filter.olderThanMs !== undefined ? String(now - filter.olderThanMs) : '+inf';
    const ids = await this.client.zrevrangebyscore(index, max, '-inf');
    const out: DeadLetterEntry[] = [];
    const stale: string[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const raws = await this.client.mget(chunk.map((id) => `${this.base}:e:${id}`));
      raws.forEach((raw, j) => {
        if (raw === null) {
          stale.push(chunk[j]!);
          return;
        }
        const entry = JSON.parse(raw) as DeadLetterEntry;
        if (filter.jobName === undefined || entry.jobName === filter.jobName) out.push(entry);
      });
      if (filter.limit !== undefined && out.length >= filter.limit) break;
    }
    if (stale.length > 0) await this.forget(stale); // expired by TTL
    return filter.limit !== undefined ? out.slice(0, filter.limit) : out;
  }

  /** Entries in the store (all queues, or one). O(1). */
  count(queue?: QueueName): Promise<number> {
    return this.client.zcard(queue ? `${this.base}:q:${queue}` : `${this.base}:index`);
  }

  /** Entries per queue in one round trip (the dashboard's `bull_dead_letter_jobs` gauge). */
  async countByQueue(): Promise<Record<QueueName, number>> {
    const multi = this.client.multi();
    for (const q of QUEUE_NAMES) multi.zcard(`${this.base}:q:${q}`);
    const results = (await multi.exec()) ?? [];
    return Object.fromEntries(QUEUE_NAMES.map((q, i) => [q, Number(results[i]?.[1] ?? 0)])) as Record<QueueName, number>;
  }

  /** Removes entries by id; resolves to how many existed. */
  async remove(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const multi = this.client.multi();
    for (const id of ids) multi.del(`${this.base}:e:${id}`);
    const results = (await multi.exec()) ?? [];
    await this.forget(ids);
    return results.reduce((n, [, v]) => n + Number(v ?? 0), 0);
  }

  /** Removes every entry matching the filter; resolves to how many were removed. */
  async purge(filter: DeadLetterFilter = {}): Promise<number> {
    const entries = await this.list(filter);
    return this.remove(entries.map((e) => e.id));
  }

  private async forget(ids: readonly string[]): Promise<void> {
    const multi = this.client.multi();
    for (const id of ids) {
      multi.zrem(`${this.base}:index`, id);
      const queue = id.slice(0, id.indexOf(':'));
      if (isQueueName(queue)) multi.zrem(`${this.base}:q:${queue}`, id);
    }
    await multi.exec();
  }
}

/** Bull options worth keeping for a replay; per-run ones (jobId, delay, repeat, signature) are not. */
const REPLAY_OPTIONS = ['attempts', 'backoff', 'priority', 'removeOnComplete', 'removeOnFail', 'timeout'] as const;
/** Options kept only to check the original signature (job-binding.ts), not reused by a replay. */
const SIGNED_ONLY_OPTIONS = ['delay', 'repeat'] as const;

/** Builds the entry for a job that failed for the last time. */
export function deadLetterEntry(queue: QueueName, job: Bull.Job, error: Error, firstFailedAt: number | undefined, now = Date.now()): DeadLetterEntry {
  const opts: Record<string, unknown> = {};
  const jobOpts = job.opts as Record<string, unknown>;
  const corruption = corruptionOf(job);
  for (const key of REPLAY_OPTIONS) if (jobOpts[key] !== undefined) opts[key] = jobOpts[key];
  const signature = jobOpts[SIGNATURE_OPTION];
  const signedOpts: Record<string, unknown> = {};
  for (const key of SIGNED_ONLY_OPTIONS) if (jobOpts[key] !== undefined) signedOpts[key] = jobOpts[key];
  const workspaceId = (job.data as { workspaceId?: unknown } | undefined)?.workspaceId;
  const lastFailedAt = job.finishedOn ?? now;
  return {
    id: DeadLetterStore.entryId(queue, String(job.id)),
    queue,
    jobName: job.name,
    jobId: String(job.id),
    data: job.data,
    opts,
    signature: typeof signature === 'string' ? signature : undefined,
    ...(Object.keys(signedOpts).length > 0 ? { signedOpts } : {}),
    workspaceId: typeof workspaceId === 'string' ? workspaceId : undefined,
    error: { name: error.name, message: error.message, stack: error.stack },
    attemptsMade: job.attemptsMade,
    firstFailedAt: firstFailedAt ?? lastFailedAt,
    lastFailedAt,
    ...(corruption ? { stored: corruption.stored } : {}),
  };
}

/** Field on the Bull job hash that remembers the first failed attempt (written on retries only). */
export const FIRST_FAILED_FIELD = 'ccFirstFailedAt';

export type ReplayOutcome =
  | { readonly id: string; readonly status: 'replayed'; readonly jobId: string }
  | { readonly id: string; readonly status: 'already-queued'; readonly jobId: string; readonly state: string }
  | { readonly id: string; readonly status: 'not-found' }
  | { readonly id: string; readonly status: 'refused'; readonly reason: string };

export interface ReplayOptions {
  /** signs the replayed job (the current key) and checks the original signature */
  readonly security: JobSecurity;
  /**
   * Replay even when the original signature does not verify (e.g. the job was dead-lettered for a
   * bad signature): re-signing vouches for data nobody verified, so it needs an explicit decision.
   */
  readonly force?: boolean;
}

export interface DeadLetters {
  readonly store: DeadLetterStore;
  list(filter?: DeadLetterFilter): Promise<DeadLetterEntry[]>;
  get(id: string): Promise<DeadLetterEntry | undefined>;
  count(queue?: QueueName): Promise<number>;
  countByQueue(): Promise<Record<QueueName, number>>;
  purge(filter?: DeadLetterFilter): Promise<number>;
  remove(ids: readonly string[]): Promise<number>;
  /**
   * Re-enqueues each entry into its original queue under its original job id (the idempotency key),
   * re-signed, then removes the entry. Safe to run twice: a job that is already back in its queue
   * is not added again, and a missing entry is reported as `not-found`.
   */
  replay(ids: readonly string[], options: ReplayOptions): Promise<ReplayOutcome[]>;
  close(): Promise<void>;
}

/**
 * The dead-letter store for operators (CLI, dashboard). `countByQueue()` is one MULTI of ZCARDs,
 * cheap enough for every metrics scrape.
 */
export function openDeadLetters(
  options: {
    redisUrl: string;
    prefix?: string;
    /**
     * Bull key layout of the queues replays go to, as the workers use it: default `BULL_CLUSTER`,
     * a Redis Cluster `REDIS_URL` or a prefix containing `{` (sharding.ts `clusterModeFromEnv`);
     * always on with a Redis Cluster `redisUrl`.
     */
    cluster?: boolean;
  } & DeadLetterBounds,
): DeadLetters {
  const prefix = options.prefix ?? 'bull';
  const connections = new RedisConnections(options.redisUrl, 'worker', 'coldcopy-dead-letters');
  const cluster = options.cluster ?? clusterModeFromEnv(process.env, prefix);
  const store = new DeadLetterStore(connections.commandClient, prefix, options);
  const queues = new Map<QueueName, Bull.Queue>();
  const queueFor = (name: QueueName) => {
    let q = queues.get(name);
    if (!q) {
      q = createBullQueue(name, { prefix, connections, skipVersionCheck: true, cluster });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };

  async function replayOne(id: string, options: ReplayOptions): Promise<ReplayOutcome> {
    const entry = await store.get(id);
    if (!entry) return { id, status: 'not-found' };
    if (entry.stored) return { id, status: 'refused', reason: 'the stored job was corrupt (not valid JSON): inspect the entry, then purge it' };
    if (!options.force && options.security.signing) {
      try {
        options.security.verify(entry.jobName, entry.data, entry.signature, { id: entry.jobId, opts: { ...entry.opts, ...entry.signedOpts } });
      } catch (err) {
        return { id, status: 'refused', reason: `${(err as Error).message}; replay with --force to re-sign it anyway` };
      }
    }
    const queue = queueFor(entry.queue);
    const existing = await queue.getJob(entry.jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'failed') await existing.remove();
      else if (state !== 'stuck') {
        // Already back (a previous replay whose entry removal did not happen, or a new enqueue).
        await store.remove([id]);
        return { id, status: 'already-queued', jobId: entry.jobId, state };
      }
    }
    const opts: Record<string, unknown> = { ...entry.opts, jobId: entry.jobId };
    const signature = options.security.sign(entry.jobName, entry.data, opts);
    if (signature !== undefined) opts[SIGNATURE_OPTION] = signature;
    await queue.add(entry.jobName, entry.data, opts as Bull.JobOptions);
    await store.remove([id]);
    return { id, status: 'replayed', jobId: entry.jobId };
  }

  return {
    store,
    list: (filter) => store.list(filter),
    get: (id) => store.get(id),
    count: (queue) => store.count(queue),
    countByQueue: () => store.countByQueue(),
    purge: (filter) => store.purge(filter),
    remove: (ids) => store.remove(ids),
    async replay(ids, replayOptions) {
      const out: ReplayOutcome[] = [];
      for (const id of ids) out.push(await replayOne(id, replayOptions));
      return out;
    },
    async close() {
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
      await connections.close();
    },
  };
}
