/**
 * Micro-benchmark of what signed jobs and encrypted fields cost per job, CPU only, no Redis:
 * `pnpm exec tsx packages/queue-core/bench/security-micro.ts` (BENCH_ITERATIONS, default 20000).
 * Each operation runs in a tight loop; the median of 7 rounds of process CPU time is reported in
 * µs per call.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineJob } from '../src/definitions/define-job.js';
import { JobSecurity } from '../src/security/job-security.js';

const N = Number(process.env.BENCH_ITERATIONS ?? 20_000);
const ROUNDS = 7;
const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

const noop = defineJob({
  name: 'bench-noop',
  queue: 'maintenance',
  description: 'benchmark no-op',
  scope: 'workspace',
  payload: { leadId: z.uuid(), n: z.number().int() },
});
const secret = defineJob({
  name: 'bench-secret',
  queue: 'integration',
  description: 'benchmark job with one encrypted field',
  scope: 'workspace',
  payload: { accessToken: z.string(), account: z.string() },
  sensitive: ['accessToken'],
});

const security = new JobSecurity({
  signingKeys: `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`,
  encryptionKeys: `e1:${randomBytes(32).toString('base64')}`,
});
const data = { workspaceId: WS, leadId: '0b8f1a8e-4c2d-4e57-9f0a-1d2c3b4a5e6f', n: 42, requestedBy: 'system' };
const tokenPayload = { workspaceId: WS, accessToken: 'ya29.a0AfB_byC-' + 'x'.repeat(180), account: 'ops@example.com' };
const OPTS = { jobId: 'bench-noop.1', attempts: 3, priority: 5 };
const STORED_OPTS = { ...OPTS, delay: 0 };
const signature = security.sign('bench-noop', data, OPTS)!;
const sealed = security.seal(secret, tokenPayload);
const sealedSig = security.sign('bench-secret', sealed, OPTS)!;
const stored = JSON.parse(JSON.stringify(data)) as typeof data;
const storedSecret = JSON.parse(JSON.stringify(sealed)) as Record<string, unknown>;

function bench(name: string, fn: (i: number) => unknown): { name: string; us: number } {
  for (let i = 0; i < Math.min(N, 5000); i++) fn(i); // warm-up
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // CPU time of this process, not wall time: steadier while other processes share the cores
    const cpu = process.cpuUsage();
    for (let i = 0; i < N; i++) fn(i);
    const used = process.cpuUsage(cpu);
    rounds.push((used.user + used.system) / N);
  }
  rounds.sort((a, b) => a - b);
  return { name, us: rounds[Math.floor(ROUNDS / 2)]! };
}

const rows = [
  bench('JSON.stringify of the payload (reference)', () => JSON.stringify(stored)),
  bench('zod parse of the payload (reference)', () => noop.schema.parse(stored)),
  bench('producer: sign (HMAC-SHA256 over name, workspace, time, JSON)', () => security.sign('bench-noop', data, OPTS)),
  bench('worker: verify', () => security.verify('bench-noop', stored, signature, { id: OPTS.jobId, opts: STORED_OPTS })),
  bench('producer: protect() = seal + sign, no sensitive fields', () => security.protect(noop, data, { ...OPTS })),
  bench('worker: admit() = verify + open, no sensitive fields', () =>
    security.admit(noop, { id: OPTS.jobId, data: stored, opts: { ...STORED_OPTS, signature } }),
  ),
  bench('producer: encrypt one 200-char field (AES-256-GCM)', () => security.seal(secret, tokenPayload)),
  bench('worker: decrypt one 200-char field', () => security.open(secret, storedSecret)),
  bench('producer: protect() with one encrypted field', () => security.protect(secret, tokenPayload, {})),
  bench('worker: admit() with one encrypted field', () =>
    security.admit(secret, { id: OPTS.jobId, data: storedSecret, opts: { ...STORED_OPTS, signature: sealedSig } }),
  ),
];

process.stdout.write(`node ${process.version}, ${N} iterations × ${ROUNDS} rounds, median CPU µs per call\n\n`);
process.stdout.write('| operation | µs per job |\n|---|---:|\n');
for (const r of rows) process.stdout.write(`| ${r.name} | ${r.us.toFixed(2)} |\n`);
