import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  allJobs,
  EnqueueOptionsError,
  getJob,
  jobInputJsonSchema,
  JobValidationError,
  PRIORITY_NAMES,
  QUEUE_NAMES,
  QUEUES,
  QueueUnavailableError,
  UnknownJobNameError,
  type Priority,
} from '@coldcopy/queue-core';
import {
  clusterModeFromEnv,
  DeadLetterStore,
  findStuckJobs,
  fixStuckJobs,
  openAdminQueues,
  scheduleRows,
  shardCountsFromEnv,
} from '@coldcopy/queue-core/admin';
import { loadEnv, redisEnv } from '@coldcopy/queue-core/env';
import { createProducer, jobSecurityFromEnv } from '@coldcopy/queue-core/producer';
import { z } from 'zod';
import { formatForms, payloadForms } from './catalog.js';
import { resolveSettings } from './connection.js';
import { DLQ_USAGE, runDlq } from './dlq.js';

export interface CliIo {
  readonly env: Record<string, string | undefined>;
  /** where relative `@file` paths resolve */
  readonly cwd: string;
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

/** Exit codes: 0 ok, 1 runtime failure (e.g. Redis unreachable), 2 bad usage or bad input. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const USAGE = `usage: pnpm jobs <command> [options]

commands:
  catalog [--json]                      queues and job types with their JSON Schemas
  enqueue <job> --data <json|@file>     validate and enqueue one job
          [--priority ${PRIORITY_NAMES.join('|')}] [--delay <ms>] [--run-at <iso>] [--key <idempotency key>]
  status [--json]                       job counts per queue (one row per shard) and state (waiting includes paused)
  schedules [--json]                    declared schedules and the repeatable jobs in Redis, with their next run
  stuck [--queue <q>] [--overdue-factor <n>] [--fix] [--json]
                                        active jobs whose lock expired (worker gone) or that held their lock
                                        more than n (default 3) times their time budget; a dry run unless
                                        --fix, which moves the first back to waiting and dead-letters the second
${DLQ_USAGE}
environment: REDIS_URL (default redis://127.0.0.1:6379), BULL_PREFIX (default bull),
  <QUEUE>_SHARDS (default 1) and BULL_CLUSTER, as the workers have them,
  JOB_SIGNING_KEYS (enqueue, dlq replay), JOB_ENCRYPTION_KEYS (jobs with sensitive fields).
  While \`npm run dev\` runs, what these leave unset comes from its .data/dev.env.
  Every command that reads Redis names it (host, port, prefix) on stderr.
`;

/** Commands that read no Redis (everything else says which Redis it reads, on stderr). */
const OFFLINE = new Set([undefined, 'catalog', 'help', '--help', '-h']);

export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  let io = given;
  if (!OFFLINE.has(command)) {
    const settings = resolveSettings(given.env, given.cwd);
    io = { ...given, env: settings.env };
    io.stderr(settings.notice);
  }
  try {
    switch (command) {
      case 'catalog':
        return catalog(rest, io);
      case 'enqueue':
        return await enqueue(rest, io);
      case 'status':
        return await status(rest, io);
      case 'schedules':
        return await schedules(rest, io);
      case 'dlq':
        return await runDlq(rest, io);
      case 'stuck':
        return await stuck(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        io.stderr(`jobs: unknown command "${command}"\n\n${USAGE}`);
        return EXIT.usage;
    }
  } catch (err) {
    if (err instanceof JobValidationError) {
      io.stderr(`jobs: invalid data for ${err.jobName}:\n${err.issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}\n`);
      return EXIT.usage;
    }
    if (err instanceof UnknownJobNameError || err instanceof EnqueueOptionsError || err instanceof UsageError) {
      io.stderr(`jobs: ${err.message}\n`);
      return EXIT.usage;
    }
    // node:util parseArgs: unknown options, missing or dash-led values, stray positionals
    if (err instanceof Error && (err.name === 'ConfigError' || /^ERR_PARSE_ARGS_/.test(String((err as { code?: unknown }).code)))) {
      io.stderr(`jobs: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof QueueUnavailableError) {
      io.stderr(`jobs: ${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
}

class UsageError extends Error {
  override name = 'UsageError';
}

function catalog(args: readonly string[], io: CliIo): number {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } }, strict: true });
  const queues = QUEUE_NAMES.map((name) => ({
    name,
    description: QUEUES[name].description,
    concurrency: QUEUES[name].concurrency,
    attempts: QUEUES[name].defaults.attempts,
    jobs: allJobs
      .filter((j) => j.queue === name)
      .map((j) => ({
        name: j.name,
        description: j.description,
        scope: j.scope,
        schema: jobInputJsonSchema(j),
      }))
      .map((j) => ({ ...j, forms: payloadForms(j.schema) })),
  }));
  if (values.json) {
    io.stdout(`${JSON.stringify({ queues }, null, 2)}\n`);
    return EXIT.ok;
  }
  for (const q of queues) {
    io.stdout(`${q.name}  (concurrency ${q.concurrency}, attempts ${q.attempts}) — ${q.description}\n`);
    for (const j of q.jobs) {
      io.stdout(`  ${j.name.padEnd(24)} ${j.description}\n`);
      for (const line of formatForms(j.forms)) io.stdout(`  ${''.padEnd(24)} ${line}\n`);
    }
  }
  return EXIT.ok;
}

async function readData(spec: string | undefined, io: CliIo): Promise<unknown> {
  if (spec === undefined) throw new UsageError('enqueue needs --data <json|@file>');
  const text = spec.startsWith('@')
    ? await readFile(resolve(io.cwd, spec.slice(1)), 'utf8').catch((err: Error) => {
        throw new UsageError(`cannot read ${spec.slice(1)}: ${err.message}`);
      })
    : spec;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`--data is not valid JSON: ${(err as Error).message}`);
  }
}

async function enqueue(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      data: { type: 'string', short: 'd' },
      priority: { type: 'string', short: 'p' },
      delay: { type: 'string' },
      'run-at': { type: 'string' },
      key: { type: 'string' },
    },
  });
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('enqueue needs a job name (see `pnpm jobs catalog`)');
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const def = getJob(name);
  if (!def) throw new UnknownJobNameError(name);
  const data = await readData(values.data, io);
  let delay: number | undefined;
  if (values.delay !== undefined) {
    delay = Number(values.delay);
    if (!/^\d+$/.test(values.delay)) throw new UsageError('--delay must be a whole number of milliseconds');
  }
  if (values.priority !== undefined && !(PRIORITY_NAMES as string[]).includes(values.priority)) {
    throw new UsageError(`--priority must be one of ${PRIORITY_NAMES.join(', ')}`);
  }
  const env = loadEnv(z.object(redisEnv), io.env);
  const producer = createProducer({
    redisUrl: env.REDIS_URL,
    prefix: env.BULL_PREFIX,
    security: jobSecurityFromEnv(io.env, (m) => io.stderr(`jobs: WARNING: ${m}\n`)),
    shards: shardCountsFromEnv(io.env),
    cluster: clusterModeFromEnv(io.env, env.BULL_PREFIX),
  });
  try {
    // Validation happens before any connection is used: bad data never reaches Redis.
    producer.validate(def, data);
    const job = await producer.enqueue(def.name, data, {
      priority: values.priority as Priority | undefined,
      delay,
      runAt: values['run-at'],
      idempotencyKey: values.key,
    });
    io.stdout(`enqueued ${job.name} on ${job.queue} as job ${job.id}\n`);
    return EXIT.ok;
  } finally {
    await producer.close();
  }
}

async function status(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } }, strict: true });
  const env = loadEnv(z.object(redisEnv), io.env);
  const admin = openAdmin(env, io);
  try {
    const rows = await withTimeout(admin.status(), 5000, `Redis did not answer within 5 s`);
    if (values.json) {
      io.stdout(`${JSON.stringify({ prefix: env.BULL_PREFIX, queues: rows }, null, 2)}\n`);
      return EXIT.ok;
    }
    const header = ['queue', 'waiting', 'active', 'delayed', 'completed', 'failed', 'paused'];
    const lines = rows.map((r) => [r.bullName, r.waiting, r.active, r.delayed, r.completed, r.failed, r.paused ? 'yes' : 'no'].map(String));
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (cols: string[]) => cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    io.stdout(`${fmt(header)}\n${lines.map(fmt).join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await admin.close();
  }
}

async function schedules(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } }, strict: true });
  const env = loadEnv(z.object(redisEnv), io.env);
  // Schedules live on shard 0, which keeps the queue's name: no shard count needed.
  const admin = openAdminQueues({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, shards: {}, cluster: clusterModeFromEnv(io.env, env.BULL_PREFIX) });
  try {
    const rows = await withTimeout(scheduleRows(admin), 5000, `Redis did not answer within 5 s`);
    if (values.json) {
      io.stdout(`${JSON.stringify({ prefix: env.BULL_PREFIX, schedules: rows }, null, 2)}\n`);
      return EXIT.ok;
    }
    const header = ['schedule', 'job', 'queue', 'cron', 'tz', 'next run', 'state'];
    const lines = rows.map((r) => [r.key, r.job, r.queue, r.cron ?? '-', r.tz ?? '-', r.nextRun ?? '-', r.state]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const fmt = (cols: string[]) =>
      cols
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    io.stdout(`${fmt(header)}\n${lines.map(fmt).join('\n')}\n`);
    if (rows.some((r) => r.state !== 'active')) {
      io.stdout("pending: added when the queue's worker next starts; stale: removed then\n");
    }
    return EXIT.ok;
  } finally {
    await admin.close();
  }
}

async function stuck(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { queue: { type: 'string', multiple: true }, 'overdue-factor': { type: 'string' }, fix: { type: 'boolean' }, json: { type: 'boolean' } },
    strict: true,
  });
  const queues = values.queue ?? [...QUEUE_NAMES];
  const unknown = queues.filter((q) => !(QUEUE_NAMES as readonly string[]).includes(q));
  if (unknown.length > 0) throw new UsageError(`stuck: unknown queue(s) ${unknown.join(', ')} (queues: ${QUEUE_NAMES.join(', ')})`);
  const factorText = values['overdue-factor'];
  const overdueFactor = factorText === undefined ? undefined : Number(factorText);
  if (overdueFactor !== undefined && !(Number.isFinite(overdueFactor) && overdueFactor >= 1)) {
    throw new UsageError(`stuck: --overdue-factor must be a number >= 1, got "${factorText}"`);
  }
  const env = loadEnv(z.object(redisEnv), io.env);
  const admin = openAdmin(env, io);
  try {
    const found = await withTimeout(
      findStuckJobs(admin, { queues: queues as (typeof QUEUE_NAMES)[number][], overdueFactor }),
      10_000,
      'Redis did not answer within 10 s',
    );
    const outcomes = values.fix && found.length > 0 ? await fixStuckJobs(admin, found, new DeadLetterStore(admin.connections.client, env.BULL_PREFIX)) : [];
    if (values.json) {
      io.stdout(`${JSON.stringify({ prefix: env.BULL_PREFIX, dryRun: !values.fix, stuck: found, outcomes }, null, 2)}\n`);
      return EXIT.ok;
    }
    if (found.length === 0) {
      io.stdout('no stuck jobs\n');
      return EXIT.ok;
    }
    for (const s of found) {
      const running = s.runningMs === null ? 'unknown time' : `${Math.round(s.runningMs / 1000)} s`;
      io.stdout(`${s.bullName}  ${s.jobId}  ${s.name}  ${s.reason}  running ${running} (budget ${s.timeoutMs / 1000} s), attempt ${s.attemptsMade + 1}\n`);
    }
    if (!values.fix) {
      const back = found.filter((s) => s.reason === 'lock-expired').length;
      io.stdout(`dry run: nothing changed; --fix would move ${back} back to waiting and dead-letter ${found.length - back}\n`);
      return EXIT.ok;
    }
    for (const o of outcomes) io.stdout(`${o.bullName}  ${o.jobId}  ${o.action}${o.action === 'skipped' ? ` (${o.why})` : ''}\n`);
    return EXIT.ok;
  } finally {
    await admin.close();
  }
}

/** Admin queues with the workers' shard counts and key layout (from the same variables). */
function openAdmin(env: { REDIS_URL: string; BULL_PREFIX: string }, io: CliIo) {
  return openAdminQueues({
    redisUrl: env.REDIS_URL,
    prefix: env.BULL_PREFIX,
    shards: shardCountsFromEnv(io.env),
    cluster: clusterModeFromEnv(io.env, env.BULL_PREFIX),
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QueueUnavailableError(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
