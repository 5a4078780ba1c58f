import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/**
 * Job execution metrics exported by every worker process (ops.md §2 B). Names, labels and
 * buckets are the same on every queue so that `sum by` works across them. Never labelled by job
 * id, workspace or error text.
 */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
export const WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * prom-client's totals of these are gauges named `_total`, which `promtool check metrics` rejects
 * (only counters end in _total). The per-type gauges of the same name without the suffix stay:
 * `sum(nodejs_active_handles)` is the total.
 */
export const PROMTOOL_REJECTED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Node's default process metrics on `registry`, without the ones promtool rejects. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of PROMTOOL_REJECTED_DEFAULTS) registry.removeSingleMetric(name);
}

/**
 * One-line declarations of a component's own series (counters and gauges registered on
 * `registry`, or on none when it is undefined: unit tests that do not scrape).
 */
export function declareMetrics(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  return {
    counter: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers }),
    gauge: <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers }),
  };
}

/**
 * The per-job series (completed, failed, duration, wait) are hot-metrics.ts types: one `labels()`
 * lookup when a worker starts, a few arithmetic operations per job. `active` is read from the
 * workers at scrape time (`trackActive`) instead of being incremented and decremented per job.
 */
export interface WorkerMetrics {
  readonly registry: Registry;
  readonly completed: HotCounter<'queue' | 'job_name'>;
  readonly failed: HotCounter<'queue' | 'job_name' | 'final'>;
  readonly stalled: Counter<'queue'>;
  readonly duration: HotHistogram<'queue' | 'job_name' | 'status'>;
  readonly wait: HotHistogram<'queue' | 'job_name'>;
  readonly active: Gauge<'queue'>;
  readonly concurrency: Gauge<'queue'>;
  readonly deadLettered: Counter<'queue' | 'job_name'>;
  /** `bull_jobs_active{queue}` at scrape time is the sum of the tracked sources; returns an untrack function */
  trackActive(queue: string, source: () => number): () => void;
}

export function createWorkerMetrics(registry = new Registry(), options: { defaultMetrics?: boolean } = {}): WorkerMetrics {
  if (options.defaultMetrics !== false) collectProcessMetrics(registry);
  const registers = [registry];
  const activeSources = new Map<string, Set<() => number>>();
  return {
    registry,
    trackActive(queue, source) {
      let sources = activeSources.get(queue);
      if (!sources) activeSources.set(queue, (sources = new Set()));
      sources.add(source);
      return () => sources.delete(source);
    },
    completed: new HotCounter({
      name: 'bull_jobs_completed_total',
      help: 'Jobs completed by this process',
      labelNames: ['queue', 'job_name'],
      registers,
    }),
    failed: new HotCounter({
      name: 'bull_jobs_failed_total',
      help: 'Failed job attempts in this process; final="true" when no retry follows',
      labelNames: ['queue', 'job_name', 'final'],
      registers,
    }),
    stalled: new Counter({
      name: 'bull_jobs_stalled_total',
      help: 'Jobs found stalled (lock expired) and moved back to wait by this process',
      labelNames: ['queue'],
      registers,
    }),
    duration: new HotHistogram({
      name: 'bull_job_duration_seconds',
      help: 'Time from a job becoming active to its completion or failure',
      labelNames: ['queue', 'job_name', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    wait: new HotHistogram({
      name: 'bull_job_wait_seconds',
      help: 'Time a job waited in the queue before it started, excluding its intended delay',
      labelNames: ['queue', 'job_name'],
      buckets: WAIT_BUCKETS,
      registers,
    }),
    active: new Gauge({
      name: 'bull_jobs_active',
      help: 'Jobs in flight in this process',
      labelNames: ['queue'],
      registers,
      collect() {
        for (const [queue, sources] of activeSources) {
          let sum = 0;
          for (const source of sources) sum += source();
          this.labels(queue).set(sum);
        }
      },
    }),
    concurrency: new Gauge({
      name: 'bull_worker_concurrency',
      help: 'Configured concurrency of this process; saturation = active / concurrency',
      labelNames: ['queue'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'bull_dead_letter_added_total',
      help: 'Jobs that failed for the last time and were written to the dead-letter store by this process',
      labelNames: ['queue', 'job_name'],
      registers,
    }),
  };
}
