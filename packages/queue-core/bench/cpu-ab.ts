/**
 * CPU per job of enqueue variants, alternated in one process on one private Redis (median of
 * BENCH_ROUNDS rounds of BENCH_JOBS jobs): raw Bull, raw Bull with queue-core's extra options
 * (id + signature), the producer unsigned and signed. What part of the producer's cost is ours.
 * `bash scripts/with-node.sh node --import tsx packages/queue-core/bench/cpu-ab.ts`
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { RedisServer, testPrefix, deletePrefix } from '@coldcopy/testing';
import Bull from 'bull';
import { baseJobOptions } from '../src/definitions/job-options.js';
import { JobSecurity } from '../src/security/job-security.js';
import { Producer } from '../src/producer/producer.js';
import { benchNoop, inFlight, payload, printCpuTable } from './shared.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const BULK = process.env.BENCH_BULK === '1';
const def = benchNoop;
const bullOpts = () => ({ ...baseJobOptions(def) });
const signed = new JobSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
const unsigned = new JobSecurity({ signing: 'disabled' });
const SIG = signed.sign('bench-noop', payload(1), { ...bullOpts(), jobId: randomUUID() })!;

const server = await RedisServer.start();
const redisUrl = server.url;

type Add = (i: number) => Promise<unknown>;
type AddBulk = (from: number, count: number) => Promise<unknown>;
async function run(open: (prefix: string) => Promise<{ add: Add; addBulk: AddBulk; close: () => Promise<void> }>): Promise<number> {
  const prefix = testPrefix();
  const side = await open(prefix);
  await side.add(-1);
  const c = process.cpuUsage();
  if (BULK) for (let i = 0; i < JOBS; i += 500) await side.addBulk(i, Math.min(500, JOBS - i));
  else await inFlight(64, JOBS, side.add);
  const u = process.cpuUsage(c);
  await side.close();
  await deletePrefix(redisUrl, prefix);
  return (u.user + u.system) / JOBS;
}

const rawSide = (extra: boolean) => async (prefix: string) => {
  const q = new Bull('maintenance', redisUrl, { prefix });
  await q.isReady();
  const opts = () => (extra ? { ...bullOpts(), jobId: randomUUID(), signature: SIG } : bullOpts());
  return {
    add: (i: number) => q.add('bench-noop', payload(i), opts()),
    addBulk: (from: number, n: number) => q.addBulk(Array.from({ length: n }, (_, k) => ({ name: 'bench-noop', data: payload(from + k), opts: opts() }))),
    close: () => q.close(),
  };
};
const coreSide = (security: JobSecurity) => async (prefix: string) => {
  const p = new Producer({ redisUrl, prefix, bulkChunkSize: 500, security });
  return {
    add: (i: number) => p.enqueue(def, payload(i)),
    addBulk: (from: number, n: number) =>
      p.enqueueBulk(
        def,
        Array.from({ length: n }, (_, k) => ({ data: payload(from + k) })),
      ),
    close: () => p.close(),
  };
};
const variants: Record<string, (prefix: string) => Promise<{ add: Add; addBulk: AddBulk; close: () => Promise<void> }>> = {
  'raw Bull': rawSide(false),
  'raw Bull + id + signature option': rawSide(true),
  'producer, unsigned': coreSide(unsigned),
  'producer, signed': coreSide(signed),
};
// BENCH_BASELINE_DIR=<another checkout>: its producer (and its Bull) as one more variant
const baseDir = process.env.BENCH_BASELINE_DIR;
if (baseDir) {
  const base = `${baseDir}/packages/queue-core/src`;
  const { Producer: BaseProducer } = (await import(`${base}/producer/producer.ts`)) as { Producer: typeof Producer };
  const { JobSecurity: BaseSecurity } = (await import(`${base}/security/job-security.ts`)) as { JobSecurity: typeof JobSecurity };
  const security = new BaseSecurity({ signingKeys: `bench:${randomBytes(32).toString('base64')}` });
  variants['baseline producer, signed'] = async (prefix: string) => {
    const p = new BaseProducer({ redisUrl, prefix, bulkChunkSize: 500, security });
    return {
      add: (i: number) => p.enqueue(def as never, payload(i)),
      addBulk: (from: number, n: number) =>
        p.enqueueBulk(
          def as never,
          Array.from({ length: n }, (_, k) => ({ data: payload(from + k) })),
        ),
      close: () => p.close(),
    };
  };
}
const results = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, open] of Object.entries(variants)) {
    const list = results.get(name) ?? [];
    list.push(await run(open));
    results.set(name, list);
  }
}
printCpuTable(`${BULK ? 'bulk (500 per call)' : 'single (64 in flight)'}, ${JOBS} jobs × ${ROUNDS} rounds`, results, 'raw Bull');
await server.stop();
process.exit(0);
