import type { QueueName } from '@coldcopy/queue-core';
import { collectProcessMetrics, declareMetrics, PROMTOOL_REJECTED_DEFAULTS } from '@coldcopy/queue-core/runtime';
import { Registry } from 'prom-client';
import { withTimeout } from './timeout.js';
import { JOB_STATES, type QueueState } from './queue-state.js';

/**
 * Queue-state metrics (ops.md §2 A), exported by the dashboard only and computed on scrape:
 * `refresh()` reads Redis once (queue-state.ts), then the registry renders. Series of a failed
 * read are dropped rather than left stale; `bull_redis_up` and
 * `bull_exporter_scrape_errors_total` tell why.
 *
 * Labels: `queue`, `shard` ('' until queues are sharded: Prometheus drops empty labels), `state`
 * ∈ waiting|active|delayed|completed|failed where waiting includes jobs held by a paused queue
 * (whether a queue is paused is `bull_queue_paused`, so no `state="paused"` series double counts
 * them in a `sum`), `status` ∈ completed|failed.
 */
export interface DashboardMetricsOptions {
  /** reads the state of every queue (throws when Redis is unreachable) */
  readonly readStates: () => Promise<QueueState[]>;
  /** Dead-letter store sizes per queue (dead-letters.ts): `bull_queue_dead_letter_jobs{queue}` when given. */
  readonly readDeadLetterSizes?: () => Promise<ReadonlyMap<QueueName, number>>;
  readonly registry?: Registry;
  readonly defaultMetrics?: boolean;
  readonly onError?: (err: Error) => void;
  /** a read slower than this counts as failed (default 5 s) */
  readonly timeoutMs?: number;
}

/** the default process metrics promtool rejects (queue-core's collectProcessMetrics leaves them out) */
export const LINT_FAILING_DEFAULT_METRICS = PROMTOOL_REJECTED_DEFAULTS;

export interface DashboardMetrics {
  readonly registry: Registry;
  /** Reads Redis and updates every queue gauge; never throws (errors count and drop series). */
  refresh(): Promise<{ ok: boolean; states: QueueState[] | undefined }>;
  /** refresh + render, the body of GET /metrics */
  render(): Promise<string>;
}

export function createDashboardMetrics(options: DashboardMetricsOptions): DashboardMetrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics !== false) collectProcessMetrics(registry);
  const metric = declareMetrics(registry);

  const jobs = metric.gauge('bull_queue_jobs', 'Jobs in a queue by state; waiting includes jobs held while the queue is paused', ['queue', 'shard', 'state']);
  const oldestAge = metric.gauge('bull_queue_oldest_waiting_age_seconds', 'Seconds since the next job to run became ready; absent when nothing waits', [
    'queue',
    'shard',
  ]);
  const paused = metric.gauge('bull_queue_paused', '1 when the queue is paused globally', ['queue', 'shard']);
  const workers = metric.gauge('bull_queue_workers', 'Bull worker connections (blocking clients) on the queue, from CLIENT LIST', ['queue', 'shard']);
  const finished = metric.counter('bull_queue_jobs_finished_total', "Jobs finished on the queue (failed = no retries left), from Bull's per-queue metrics", [
    'queue',
    'shard',
    'status',
  ]);
  const redisUp = metric.gauge('bull_redis_up', '1 when the last scrape could read Redis');
  const scrapeErrors = metric.counter('bull_exporter_scrape_errors_total', 'Scrapes whose Redis reads failed');
  const scrapeDuration = metric.gauge('bull_exporter_scrape_duration_seconds', 'Time the last scrape spent reading Redis');
  const deadLetter = options.readDeadLetterSizes
    ? metric.gauge('bull_queue_dead_letter_jobs', 'Jobs in the dead-letter store of the queue', ['queue'])
    : undefined;
  scrapeErrors.inc(0);

  const queueSeries = [jobs, oldestAge, paused, workers, finished];

  async function refresh(): Promise<{ ok: boolean; states: QueueState[] | undefined }> {
    const started = process.hrtime.bigint();
    let states: QueueState[] | undefined;
    let ok = true;
    try {
      const [read, dlq] = await withTimeout(
        Promise.all([options.readStates(), options.readDeadLetterSizes?.()]),
        options.timeoutMs ?? 5000,
        'reading queue state',
      );
      states = read;
      for (const series of queueSeries) series.reset();
      for (const s of states) {
        const labels = { queue: s.queue, shard: s.shard };
        for (const state of JOB_STATES) jobs.set({ ...labels, state }, s.counts[state]);
        paused.set(labels, s.paused ? 1 : 0);
        if (s.oldestWaitingAgeSeconds !== null) oldestAge.set(labels, round3(s.oldestWaitingAgeSeconds));
        // A partial read (Redis Cluster, some primaries did not answer) is a lower bound: no series,
        // as when CLIENT LIST is refused, rather than a 0 that pages QueueHasWorkButNoWorkers.
        if (s.workers !== null && !s.workersPartial) workers.set(labels, s.workers.length);
        // A counter whose value lives in Redis: reset + inc sets it to Bull's running total.
        if (s.finished.completed !== null) finished.inc({ ...labels, status: 'completed' }, s.finished.completed);
        if (s.finished.failed !== null) finished.inc({ ...labels, status: 'failed' }, s.finished.failed);
      }
      if (deadLetter && dlq) {
        deadLetter.reset();
        for (const [queue, size] of dlq) deadLetter.set({ queue }, size);
      }
      redisUp.set(1);
    } catch (err) {
      ok = false;
      for (const series of queueSeries) series.reset();
      deadLetter?.reset();
      redisUp.set(0);
      scrapeErrors.inc();
      options.onError?.(err as Error);
    }
    scrapeDuration.set(Number(process.hrtime.bigint() - started) / 1e9);
    return { ok, states };
  }

  // Scrapes run one at a time, so one scrape's reset never shows in another's output.
  let tail: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };

  return {
    registry,
    refresh: () => serialized(refresh),
    render: () =>
      serialized(async () => {
        await refresh();
        return registry.metrics();
      }),
  };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
