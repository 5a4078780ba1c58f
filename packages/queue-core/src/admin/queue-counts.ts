import type Bull from 'bull';
import type { Cluster, Redis } from 'ioredis';

/**
 * The one reader of Bull v4's key layout and counts outside Bull itself: admin status (CLI,
 * autoscaler), stuck jobs and the dashboard's /metrics and /health all read through here, so
 * the layout (`<prefix>:<name>:<type>`, a `{hash-tagged}` prefix, BULL_CLUSTER, shards) is known
 * in one place: Bull's own key builder, which is right for every layout.
 */

/** Bull v4 Queue methods missing from its typings (lib/queue.js, lib/worker.js). */
interface BullInternals {
  toKey(type: string): string;
  /** `<key prefix>:<base64(queue name)>`, the name a worker gives its blocking connection */
  clientName(): string;
}

/** The Redis key of one of a Bull queue's structures (`wait`, `active`, `<job id>:lock`, `''` for the job hash prefix…). */
export function bullKey(queue: Bull.Queue, type: string): string {
  return (queue as unknown as BullInternals).toKey(type);
}

/** The name a Bull worker of this queue gives its blocking connection (CLIENT LIST shows it). */
export function workerClientName(queue: Bull.Queue): string {
  return (queue as unknown as BullInternals).clientName();
}

/** Counts of one Bull queue. */
export interface QueueCounts {
  /** `wait` + `paused` lists: jobs held by a paused queue are still waiting (bull-v4.md §12) */
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
  /** Bull's `meta-paused` key, or the BullMQ-style `meta` hash flag Bull's isPaused() also reads */
  readonly paused: boolean;
  /**
   * Seconds since the next job to run (the tail of `wait`, else of `paused`) became ready; null when
   * nothing waits. A scaling and alert signal (ops.md §8).
   */
  readonly oldestWaitingAgeSeconds: number | null;
  /**
   * Bull's running totals of finished jobs (`<q>:metrics:completed|failed` → `count`), kept only
   * when the workers' queues have the `metrics` option; null when never recorded. `failed` counts
   * final failures only (retries do not pass through moveToFinished).
   */
  readonly finished: { readonly completed: number | null; readonly failed: number | null };
}

/**
 * The job to run next is the tail of `wait` (or of `paused`). It became ready at the latest of:
 * its creation plus its intended delay, its last start (a retry after backoff), a manual retry.
 * Using the last start overstates the age of a retried job by its attempt and backoff time; the
 * alert on this gauge has a `for:` clause. Prioritized and LIFO jobs make the tail "next", not
 * strictly "oldest".
 */
const OLDEST_READY_AT = `
local id = redis.call('LINDEX', KEYS[1], -1)
if not id then id = redis.call('LINDEX', KEYS[2], -1) end
if not id then return false end
local f = redis.call('HMGET', ARGV[1] .. id, 'timestamp', 'opts', 'processedOn', 'retriedOn')
local ready = tonumber(f[1])
if not ready then return false end
if f[2] then
  local ok, opts = pcall(cjson.decode, f[2])
  if ok and type(opts) == 'table' and tonumber(opts.delay) then ready = ready + tonumber(opts.delay) end
end
for i = 3, 4 do
  local v = tonumber(f[i])
  if v and v > ready then ready = v end
end
return tostring(ready)
`;

export interface ReadQueueCountsOptions {
  /** the connection to read on (default: each queue's own command client) */
  readonly client?: Redis | Cluster;
  readonly now?: () => number;
}

/**
 * Counts of several Bull queues in one round trip: one MULTI of O(1) commands per queue (LLEN,
 * ZCARD, EXISTS, HEXISTS, HGET and one small Lua script reading a single job hash), all written
 * before the first reply is awaited, so they pipeline. Never a job list: safe with millions of
 * jobs. Every key of one MULTI is one Bull queue's, so on a Redis Cluster it stays in that queue's
 * hash slot (sharding.ts `bullKeyLayout`).
 *
 * Not async on purpose: the MULTIs are written synchronously, so a caller can send more commands
 * right behind them (the dashboard's CLIENT LIST) in the same round trip.
 */
export function readQueueCounts(queues: readonly Bull.Queue[], options: ReadQueueCountsOptions = {}): Promise<QueueCounts[]> {
  const transactions = queues.map((queue) => {
    const key = (type: string) => bullKey(queue, type);
    return (options.client ?? queue.client)
      .multi()
      .llen(key('wait'))
      .llen(key('paused'))
      .llen(key('active'))
      .zcard(key('delayed'))
      .zcard(key('completed'))
      .zcard(key('failed'))
      .exists(key('meta-paused'))
      .hexists(key('meta'), 'paused')
      .eval(OLDEST_READY_AT, 2, key('wait'), key('paused'), key(''))
      .hget(key('metrics:completed'), 'count')
      .hget(key('metrics:failed'), 'count')
      .exec();
  });
  return Promise.all(transactions).then((replies) => {
    const at = (options.now ?? Date.now)();
    return replies.map((results) => {
      if (!results) throw new Error('Redis transaction aborted');
      const reply = (i: number): unknown => {
        const [err, value] = results[i] ?? [new Error('missing reply'), null];
        if (err) throw err;
        return value;
      };
      const n = (i: number) => Number(reply(i));
      const optional = (i: number) => {
        const v = reply(i);
        return v === null || v === undefined ? null : Number(v);
      };
      const readyAt = optional(8);
      return {
        waiting: n(0) + n(1),
        active: n(2),
        delayed: n(3),
        completed: n(4),
        failed: n(5),
        paused: n(6) === 1 || n(7) === 1,
        oldestWaitingAgeSeconds: readyAt === null ? null : Math.max(0, (at - readyAt) / 1000),
        finished: { completed: optional(9), failed: optional(10) },
      };
    });
  });
}
