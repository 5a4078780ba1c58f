import type { Request, RequestHandler } from 'express';
import { withTimeout } from './timeout.js';
import type { QueueState, WorkerConnection } from './queue-state.js';

/**
 * `/health`: the readiness check of the dashboard (ops.md §3) and a summary for people.
 * 200 when Redis answers PING within `pingTimeoutMs`, 503 otherwise. The body carries what the
 * seed's health endpoint had: status, Redis reachability and latency, per-queue counts (with the
 * connected workers), memory and uptime. Worker addresses are shown only to callers allowed to
 * scrape /metrics, because /health itself must stay open for the platform's probe.
 */
export interface HealthOptions {
  readonly ping: () => Promise<unknown>;
  readonly readStates: () => Promise<QueueState[]>;
  /** default 1000 ms */
  readonly pingTimeoutMs?: number;
  readonly showDetails: (req: Request) => boolean;
}

export interface QueueHealth {
  readonly queue: string;
  readonly shard?: string;
  readonly paused: boolean;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  readonly completed: number;
  readonly failed: number;
  readonly oldestWaitingAgeSeconds: number | null;
  /** worker connections on the queue; null when CLIENT LIST is not allowed */
  readonly workers: number | null;
  /** Redis Cluster: some primaries did not answer CLIENT LIST, `workers` is a lower bound */
  readonly workersPartial?: true;
  readonly workerConnections?: readonly WorkerConnection[];
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded' | 'unavailable';
  readonly time: string;
  readonly uptimeSeconds: number;
  readonly redis: { readonly reachable: boolean; readonly latencyMs: number | null; readonly error?: string };
  readonly queues: readonly QueueHealth[];
  readonly queuesError?: string;
  readonly memory: { readonly rss: number; readonly heapUsed: number; readonly heapTotal: number; readonly external: number };
}

export function createHealthHandler(options: HealthOptions): RequestHandler {
  const pingTimeoutMs = options.pingTimeoutMs ?? 1000;
  return async (req, res) => {
    const details = options.showDetails(req);
    const started = performance.now();
    let redis: HealthReport['redis'];
    try {
      await withTimeout(options.ping(), pingTimeoutMs, 'Redis PING');
      redis = { reachable: true, latencyMs: round1(performance.now() - started) };
    } catch (err) {
      redis = { reachable: false, latencyMs: null, error: (err as Error).message };
    }
    let queues: QueueHealth[] = [];
    let queuesError: string | undefined;
    if (redis.reachable) {
      try {
        const states = await withTimeout(options.readStates(), 2 * pingTimeoutMs, 'reading queue state');
        queues = states.map((s) => ({
          queue: s.queue,
          ...(s.shard ? { shard: s.shard } : {}),
          paused: s.paused,
          ...s.counts,
          oldestWaitingAgeSeconds: s.oldestWaitingAgeSeconds === null ? null : Math.round(s.oldestWaitingAgeSeconds * 10) / 10,
          workers: s.workers === null ? null : s.workers.length,
          ...(s.workersPartial ? { workersPartial: true as const } : {}),
          ...(details && s.workers !== null ? { workerConnections: s.workers } : {}),
        }));
      } catch (err) {
        queuesError = (err as Error).message;
      }
    }
    const memory = process.memoryUsage();
    const report: HealthReport = {
      status: !redis.reachable ? 'unavailable' : queuesError ? 'degraded' : 'ok',
      time: new Date().toISOString(),
      uptimeSeconds: Math.round(process.uptime()),
      redis,
      queues,
      ...(queuesError ? { queuesError } : {}),
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
    };
    res
      .status(redis.reachable ? 200 : 503)
      .set('cache-control', 'no-store')
      .json(report);
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
