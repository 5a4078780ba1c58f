import { readShardCounts, type QueueCounts } from '@coldcopy/queue-core/admin';
import type { Cluster, Redis } from 'ioredis';
import type { QueueTarget } from './queue-targets.js';

/**
 * Queue state for /metrics and /health (ops.md §8): queue-core's counts (admin `readShardCounts`,
 * the one reader of Bull's keys) plus the worker connections.
 *
 * Cost: one MULTI of O(1) commands per queue, all sent in one round trip, plus one CLIENT LIST for
 * the workers (on a Redis Cluster one per primary, sent at the same time). Never a job list: the
 * time does not grow with the number of jobs (docs/benchmarks.md).
 */
export type JobCounts = Pick<QueueCounts, 'waiting' | 'active' | 'delayed' | 'completed' | 'failed'>;

export const JOB_STATES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const satisfies ReadonlyArray<keyof JobCounts>;

/**
 * A Redis connection of a Bull worker, from CLIENT LIST: the one Bull named (`workersOf`), the
 * worker's blocking connection (on a Redis Cluster, the node connection of the primary serving the
 * queue, where queue-core's RedisConnections puts the name).
 */
export interface WorkerConnection {
  readonly id: string;
  readonly addr: string;
  /** seconds connected */
  readonly age: number;
  /** seconds since its last command */
  readonly idle: number;
}

export interface QueueState {
  readonly queue: QueueTarget['queue'];
  readonly shard: string;
  readonly counts: JobCounts;
  readonly paused: boolean;
  /** now − when the next job to run became ready; null when nothing waits */
  readonly oldestWaitingAgeSeconds: QueueCounts['oldestWaitingAgeSeconds'];
  /** Bull's running totals of finished jobs (queue-counts.ts); null when never recorded */
  readonly finished: QueueCounts['finished'];
  /**
   * null when CLIENT LIST is not allowed (some managed Redis plans); on a Redis Cluster, null only
   * when no primary answered it.
   */
  readonly workers: readonly WorkerConnection[] | null;
  /**
   * Redis Cluster only: some primaries answered CLIENT LIST and some did not (refused, or the node
   * was unreachable). `workers` then lists what the answering primaries hold: a lower bound, since
   * a worker's named connection may sit on a primary that did not answer. /metrics exports no
   * worker count for such a read (a wrong 0 would page QueueHasWorkButNoWorkers); /health shows it.
   */
  readonly workersPartial: boolean;
}

export async function readQueueStates(client: Redis | Cluster, targets: readonly QueueTarget[], now: () => number = Date.now): Promise<QueueState[]> {
  // queue-core's counts write one MULTI per queue before awaiting; CLIENT LIST goes right behind
  // them (same round trip), outside them because a provider that disables CLIENT would otherwise
  // abort a transaction.
  const [counts, clientList] = await Promise.all([
    readShardCounts(
      targets.map((t) => t.source),
      { client, now },
    ),
    client.isCluster
      ? listClusterClients(client as Cluster)
      : (client.client('LIST') as Promise<string>).then(
          (text) => ({ connections: parseClientList(text), partial: false }),
          () => null,
        ),
  ]);
  const connections = clientList === null ? null : clientList.connections;
  const workersPartial = clientList?.partial ?? false;
  return targets.map((t, i) => {
    const { waiting, active, delayed, completed, failed, paused, oldestWaitingAgeSeconds, finished } = counts[i]!;
    return {
      queue: t.queue,
      shard: t.shard,
      counts: { waiting, active, delayed, completed, failed },
      paused,
      oldestWaitingAgeSeconds,
      finished,
      workers: connections === null ? null : workersOf(connections, t.source.workerClientName),
      workersPartial,
    };
  });
}

interface ClientListing {
  readonly connections: ReadonlyArray<Record<string, string>>;
  /** Redis Cluster: some primaries did not answer */
  readonly partial: boolean;
}

/**
 * CLIENT LIST on every primary of a Redis Cluster, all sent at once (each node connection writes
 * its own; together with the MULTIs still one round trip), merged into one list.
 *
 * Why every primary: a Bull worker's blocking client is an ioredis Cluster too, and Bull names it
 * with a keyless `CLIENT SETNAME <prefix>:<base64(queue)>`. queue-core's RedisConnections sends
 * that name to the connection of the primary serving the queue's slot (the one blocked in
 * BRPOPLPUSH) and sets it again after a reconnect (bull 4.16.5, ioredis 5.9.2; checked in
 * packages/queue-core/test/cluster.int.test.ts and test/cluster-workers.int.test.ts). Queues
 * spread over the primaries, so one node's CLIENT LIST sees only the workers of its own queues;
 * each name sits on one primary, so the merge cannot count a worker twice. A connection listed
 * twice (the same server reached under two addresses while the slot map changes) is kept once:
 * `laddr` (the server's end of the connection, Redis ≥ 6.2) and `id` (unique per server)
 * identify it.
 *
 * Primaries only: the name goes to a primary. Under-counted: a worker whose named connection now
 * sits on a replica (its primary was demoted by a manual failover), and, for up to Bull's drain
 * delay (5 s: the name queues behind a BRPOPLPUSH in progress), a worker that just started or
 * reconnected.
 *
 * null when no primary answered (CLIENT refused everywhere, as on one server); `partial` when some
 * did not.
 */
async function listClusterClients(cluster: Cluster): Promise<ClientListing | null> {
  const nodes = cluster.nodes('master');
  const lists = await Promise.all(
    nodes.map((node) =>
      (node.client('LIST') as Promise<string>).then(
        (text) => ({ node: `${node.options.host}:${node.options.port}`, text }),
        () => null,
      ),
    ),
  );
  const answered = lists.filter((l) => l !== null);
  if (answered.length === 0) return null;
  return { connections: mergeClientLists(answered), partial: answered.length < nodes.length };
}

/**
 * The CLIENT LIST replies of several nodes (`node`: the address it was read from) → one record per
 * connection. A connection is identified by `laddr` (the server's end of it, Redis ≥ 6.2), or else
 * by the node it was read from, plus its `id` (unique per server).
 */
export function mergeClientLists(replies: ReadonlyArray<{ readonly node: string; readonly text: string }>): Array<Record<string, string>> {
  const seen = new Set<string>();
  const connections: Array<Record<string, string>> = [];
  for (const { node, text } of replies) {
    for (const c of parseClientList(text)) {
      if (c.id !== undefined) {
        const identity = `${c.laddr ?? node}|${c.id}`;
        if (seen.has(identity)) continue;
        seen.add(identity);
      }
      connections.push(c);
    }
  }
  return connections;
}

/** `CLIENT LIST` text → one record per connection. */
export function parseClientList(text: string): Array<Record<string, string>> {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const entry: Record<string, string> = {};
      for (const pair of line.trim().split(' ')) {
        const i = pair.indexOf('=');
        if (i > 0) entry[pair.slice(0, i)] = pair.slice(i + 1);
      }
      return entry;
    });
}

/**
 * A Bull worker names its blocking connection `<prefix>:<base64(queue name)>` when it starts
 * processing (one CLIENT LIST for every queue instead of one per queue). The whole name must
 * match: Bull's own `getWorkers()` matches by prefix, but an unpadded base64 text is a prefix of
 * the base64 of a longer name with the same start (`analytics` → `YW5hbHl0aWNz`, `analytics-1` →
 * `YW5hbHl0aWNzLTE=`), so shard 0 would also count shard 1's workers.
 */
export function workersOf(connections: ReadonlyArray<Record<string, string>>, clientName: string): WorkerConnection[] {
  return connections
    .filter((c) => c.name === clientName)
    .map((c) => ({ id: c.id ?? '', addr: c.addr ?? '', age: Number(c.age ?? 0), idle: Number(c.idle ?? 0) }));
}
