/**
 * CPU per enqueue of the producer's own work, no Redis: `pnpm exec tsx packages/queue-core/bench/producer-micro.ts`.
 * Each piece in a tight loop, median of 9 rounds of process CPU time.
 */
import { randomBytes } from 'node:crypto';
import Bull from 'bull';
import { baseJobOptions, jobIdOf, resolveEnqueueOptions } from '../src/definitions/job-options.js';
import { JobSecurity } from '../src/security/job-security.js';
import { benchNoop, cpuPerCall, payload } from './shared.js';
import { Producer } from '../src/producer/producer.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 50_000);
const def = benchNoop;
const security = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
const parsed = def.inputSchema.parse(payload(1)) as Record<string, unknown>;

// a producer whose queue is a stub: everything enqueue does except Bull and Redis
const producer = new Producer({ redisUrl: 'redis://127.0.0.1:1', security, bulkChunkSize: 500 });
const stub = {
  add: (name: string, data: unknown, opts: Bull.JobOptions) => Promise.resolve({ id: opts.jobId, name, data }),
  addBulk: (jobs: Array<{ opts: Bull.JobOptions }>) => Promise.resolve(jobs.map((j) => ({ id: j.opts.jobId }))),
};
const internals = producer as unknown as { queues: Map<string, unknown>; connections: { client: { status: string } } };
internals.queues.set('maintenance', stub);
Object.defineProperty(internals.connections, 'client', { value: { status: 'ready' } });
(producer as unknown as { readyQueue: () => Promise<unknown> }).readyQueue = () => Promise.resolve(stub);

// Bull's own work per add (no Redis): the queue's cloneDeep of the options, then Job + toData
const fakeQueue = { toKey: (s: string) => s } as unknown as Bull.Queue;
const JobCtor = (Bull as unknown as { Job: new (q: Bull.Queue, n: string, d: unknown, o: object) => { toData(): unknown } }).Job;

const cost = (name: string, fn: (i: number) => unknown, awaitEach = false) => cpuPerCall(name, N, fn, awaitEach);

await cost('producer.enqueue (stub queue)', (i) => producer.enqueue(def, payload(i)), true);
await cost(
  'producer.enqueueBulk of 500, per item',
  async (i) => {
    if (i % 500 === 0)
      await producer.enqueueBulk(
        def,
        Array.from({ length: 500 }, (_, k) => ({ data: payload(i + k) })),
      );
  },
  true,
);
await cost('  zod inputSchema.safeParse', (i) => def.inputSchema.safeParse(payload(i)));
await cost('  resolveEnqueueOptions', () => resolveEnqueueOptions(def, undefined, Date.now()));
await cost('  jobIdOf', () => jobIdOf(def, parsed as never, undefined));
await cost('  security.protect (uuid + sign)', () => security.protect(def, parsed, { ...baseJobOptions(def) }));
await cost('  payload object (bench input)', (i) => payload(i));
await cost('  an awaited resolved promise', () => Promise.resolve(1), true);
const rawOpts = { ...baseJobOptions(def) };
const coreOpts = { ...baseJobOptions(def) };
security.protect(def, parsed, coreOpts);
await cost('Bull add work, raw options', (i) => new JobCtor(fakeQueue, 'bench-noop', payload(i), { ...rawOpts }).toData());
await cost('Bull add work, queue-core options', (i) => new JobCtor(fakeQueue, 'bench-noop', payload(i), { ...coreOpts }).toData());
process.exit(0);
