/**
 * CPU per enqueue without Redis: raw Bull's add / addBulk and the producer's enqueue /
 * enqueueBulk on a Bull queue whose Redis client is a stub (so everything but ioredis and Redis),
 * the producer signed and unsigned, and the pieces of its own work.
 * `bash scripts/with-node.sh node --import tsx packages/queue-core/bench/producer-micro.ts`
 * (BENCH_ONLY=<regex> runs only the matching rows). Each in a tight loop, median of 9 rounds of
 * process CPU time.
 */
import { createHmac, createSecretKey, randomBytes, randomUUID } from 'node:crypto';
import Bull from 'bull';
import { baseJobOptions, jobIdOf, resolveEnqueueOptions } from '../src/definitions/job-options.js';
import { HmacSha256 } from '../src/security/hmac-sha256.js';
import { JobSecurity } from '../src/security/job-security.js';
import { benchNoop, cpuPerCall, payload, printCpuTable, WS } from './shared.js';
import { Producer } from '../src/producer/producer.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 50_000);
const def = benchNoop;
const security = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
const parsed = def.inputSchema.parse(payload(1)) as Record<string, unknown>;

// A Bull queue whose Redis client is a stub (its add script answers at once): everything an
// enqueue does except ioredis and Redis, for raw Bull's add and for the producer alike.
let nextId = 0;
const stubClient = {
  addJob: (args: string[]) => Promise.resolve(String(args[args.length - 6] || ++nextId)),
  multi() {
    const queued: string[][] = [];
    return {
      addJob: (args: string[]) => queued.push(args),
      exec: () => Promise.resolve(queued.map((args) => [null, String(args[args.length - 6] || ++nextId)])),
    };
  },
};
const queue = Object.create(Bull.prototype as object) as Bull.Queue & { keys: Record<string, string> };
Object.assign(queue, { name: 'maintenance', keyPrefix: 'bench', keys: {}, client: stubClient, defaultJobOptions: {}, limiter: undefined });
queue.isReady = () => Promise.resolve(queue);
queue.toKey = (s: string) => `bench:maintenance:${s}`;
for (const k of ['wait', 'paused', 'meta-paused', 'id', 'delayed', 'priority']) queue.keys[k] = queue.toKey(k);
function stubbedProducer(jobSecurity: JobSecurity, P: typeof Producer = Producer): Producer {
  const p = new P({ redisUrl: 'redis://127.0.0.1:1', security: jobSecurity, bulkChunkSize: 500 });
  const internals = p as unknown as { queues: Map<string, unknown>; connections: { client: { status: string } } };
  internals.queues.set('maintenance', queue);
  Object.defineProperty(internals.connections, 'client', { value: { status: 'ready' } });
  (p as unknown as { readyQueue: () => Promise<unknown> }).readyQueue = () => Promise.resolve(queue);
  return p;
}
const producer = stubbedProducer(security);
const unsignedProducer = stubbedProducer(new JobSecurity({ signing: 'disabled' }));

// BENCH_BASELINE_DIR=<another checkout>: its producer and this one, enqueueBulk and enqueue
// alternated round by round (CPU µs per job, median of 15 rounds), then exit.
const baseDir = process.env.BENCH_BASELINE_DIR;
if (baseDir) {
  const src = `${baseDir}/packages/queue-core/src`;
  const { Producer: BaseProducer } = (await import(`${src}/producer/producer.ts`)) as { Producer: typeof Producer };
  const { JobSecurity: BaseSecurity } = (await import(`${src}/security/job-security.ts`)) as { JobSecurity: typeof JobSecurity };
  const base = stubbedProducer(new BaseSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` }), BaseProducer);
  const bulk = (p: Producer) => async (i: number) => {
    if (i % 500 === 0)
      await p.enqueueBulk(
        def,
        Array.from({ length: 500 }, (_, k) => ({ data: payload(i + k) })),
      );
  };
  const single = (p: Producer) => (i: number) => p.enqueue(def, payload(i));
  const variants: Record<string, (i: number) => Promise<unknown>> = {
    'baseline enqueueBulk of 500': bulk(base),
    'enqueueBulk of 500': bulk(producer),
    'baseline enqueue': single(base),
    enqueue: single(producer),
  };
  const results = new Map<string, number[]>();
  for (let r = 0; r < 15; r++) {
    for (const [name, fn] of Object.entries(variants)) {
      const c = process.cpuUsage();
      for (let i = 0; i < N; i++) await fn(i);
      const u = process.cpuUsage(c);
      results.set(name, [...(results.get(name) ?? []), (u.user + u.system) / N]);
    }
  }
  printCpuTable(`producer A/B against ${baseDir}, ${N} jobs × 15 rounds (stub client)`, results, 'baseline enqueueBulk of 500');
  process.exit(0);
}

/** BENCH_ONLY=<regex>: only the pieces whose name matches (e.g. under --cpu-prof) */
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
const cost = async (name: string, fn: (i: number) => unknown, awaitEach = false) => {
  if (!only || only.test(name)) await cpuPerCall(name, N, fn, awaitEach);
};

await cost('raw Bull queue.add (stub client)', (i) => queue.add('bench-noop', payload(i), { ...baseJobOptions(def) }), true);
await cost('producer.enqueue (stub client)', (i) => producer.enqueue(def, payload(i)), true);
await cost(
  'raw Bull addBulk of 500 (stub client), per job',
  async (i) => {
    if (i % 500 === 0)
      await queue.addBulk(Array.from({ length: 500 }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: { ...baseJobOptions(def) } })));
  },
  true,
);
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
await cost(
  'unsigned producer.enqueueBulk of 500, per item',
  async (i) => {
    if (i % 500 === 0)
      await unsignedProducer.enqueueBulk(
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
const signOpts = { ...baseJobOptions(def), jobId: randomUUID() };
await cost('  security.sign', () => security.sign(def.name, parsed, signOpts));
const parsedMany = Array.from({ length: 1000 }, (_, i) => def.inputSchema.parse(payload(i)) as Record<string, unknown>);
await cost('  security.sign, 1000 different payloads', (i) => security.sign(def.name, parsedMany[i % 1000], signOpts));
await cost('  security.protect, 1000 different payloads', (i) => security.protect(def, parsedMany[i % 1000]!, { ...baseJobOptions(def) }));
await cost('    JSON.stringify(payload)', () => JSON.stringify(parsed));
const text = `v2\nbench-noop\n${WS}\n1765000000000\njob ${signOpts.jobId} 1 0 10\n${JSON.stringify(parsed)}`;
const key = randomBytes(32);
const keyObject = createSecretKey(key);
const mac = new HmacSha256(key);
await cost('    HMAC-SHA256 of the signed text (HmacSha256)', () => mac.base64url(text));
await cost('    the same with createHmac', () => createHmac('sha256', keyObject).update(text).digest('base64url'));
await cost('    randomUUID', () => randomUUID());
await cost('  payload object (bench input)', (i) => payload(i));
await cost('  an awaited resolved promise', () => Promise.resolve(1), true);
const coreOpts = { ...baseJobOptions(def) };
security.protect(def, parsed, coreOpts);
await cost(
  'raw Bull addBulk of 500 with the id and signature options, per job',
  async (i) => {
    if (i % 500 === 0)
      await queue.addBulk(Array.from({ length: 500 }, (_, k) => ({ name: 'bench-noop', data: payload(i + k), opts: { ...coreOpts, jobId: randomUUID() } })));
  },
  true,
);
process.exit(0);
