/**
 * CPU cost of the pieces the worker runtime adds to every job, measured in isolation (no Redis):
 * `pnpm exec tsx packages/queue-core/bench/per-job-costs.ts`. Explains why completed-job log lines
 * are at `debug` (docs/benchmarks.md).
 */
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Counter, Histogram } from 'prom-client';
import winston from 'winston';
import { z } from 'zod';
import { defineJob } from '../src/definitions/define-job.js';
import { createLogger } from '../src/observability/logger.js';
import { HmacSha256 } from '../src/security/hmac-sha256.js';
import { JobSecurity } from '../src/security/job-security.js';
import { createWorkerMetrics, DURATION_BUCKETS } from '../src/observability/metrics.js';

const N = 200_000;
const def = defineJob({
  name: 'bench-noop',
  queue: 'maintenance',
  description: 'benchmark no-op',
  scope: 'workspace',
  payload: { leadId: z.uuid(), n: z.number().int() },
});
const data = { workspaceId: '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11', leadId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f', n: 1, requestedBy: 'system' };
const metrics = createWorkerMetrics();
const completed = metrics.completed.labels('maintenance', 'bench-noop');
const duration = metrics.duration.labels('maintenance', 'bench-noop', 'completed');
const logger = createLogger({ transports: [new winston.transports.Stream({ stream: createWriteStream('/dev/null') })] });
const promCompleted = new Counter({ name: 'c_total', help: 'c', labelNames: ['queue', 'job_name'], registers: [] }).labels('maintenance', 'bench-noop');
const promDuration = new Histogram({
  name: 'd_seconds',
  help: 'd',
  labelNames: ['queue', 'job_name', 'status'],
  buckets: DURATION_BUCKETS,
  registers: [],
}).labels('maintenance', 'bench-noop', 'completed');
const key = randomBytes(32);
const security = new JobSecurity({ signingKeys: `k1:${key.toString('base64')}` });
const OPTS = { jobId: 'bench-noop.1', attempts: 3, priority: 5, delay: 0 };
const signature = security.sign('bench-noop', data, OPTS);
const keyObject = createSecretKey(key);
const mac = new HmacSha256(key);
const fields = { queue: 'maintenance', job: 'bench-noop', jobId: '1', attempt: 1, durationMs: 0, workspaceId: data.workspaceId };

async function cost(name: string, fn: () => unknown): Promise<void> {
  let us = 0;
  for (let round = 0; round < 2; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) fn();
    await new Promise((r) => setImmediate(r)); // let buffered writes flush inside the measurement
    const used = process.cpuUsage(start);
    us = (used.user + used.system) / N; // the second round, after warm-up
  }
  process.stdout.write(`${name.padEnd(34)} ${us.toFixed(2).padStart(6)} µs\n`);
}

await cost('zod safeParse of the payload', () => def.schema.safeParse(data));
await cost('signature check (JobSecurity.verify)', () => security.verify('bench-noop', data, signature, { id: OPTS.jobId, opts: OPTS }));
await cost('  of which HMAC-SHA256 (HmacSha256)', () => mac.base64url('x'.repeat(200)));
await cost('  the same with createHmac', () => createHmac('sha256', keyObject).update('x'.repeat(200)).digest('base64url'));
await cost('  of which JSON.stringify(data)', () => JSON.stringify(data));
await cost('AbortController (now only if read)', () => new AbortController().signal);
await cost('timer per job (now one sweep)', () => clearTimeout(setTimeout(() => {}, 60_000)));
await cost('metrics (counter + histogram)', () => {
  completed.inc();
  duration.observe(0.01);
});
await cost('  the same with prom-client children', () => {
  promCompleted.inc();
  promDuration.observe(0.01);
});
await cost('winston line at an enabled level', () => logger.info('job completed', fields));
logger.level = 'info';
await cost('winston call at a disabled level', () => logger.debug('job completed', fields));
await cost('level check before the call', () => logger.isLevelEnabled('debug') && logger.debug('job completed', fields));
