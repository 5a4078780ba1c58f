import { type ChildProcess, spawn } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AnyJobDefinition, type JobInput, QUEUE_NAMES, type QueueName } from '@coldcopy/queue-core';
import { type EnqueuedJob, type EnqueueOptions, JobSecurity, Producer, type ShardCounts, shardQueueNames } from '@coldcopy/queue-core/producer';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { deletePrefix, testPrefix } from './isolation.js';
import { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS, TEST_TOKEN_KEYS } from './keys.js';
import { waitFor } from './wait-for.js';

/**
 * A worker app's real entry point (src/main.ts, run with tsx) in its own Node process, for tests
 * that kill it (kill -9), restart it or run several replicas, and for benches. Replaces the copies
 * of `test/worker-process.ts` the apps used to have.
 */
export interface WorkerAppProcess {
  readonly child: ChildProcess;
  /** its /livez, /readyz and /metrics */
  readonly healthPort: number;
  /** stdout and stderr so far (the last few MB) */
  readonly output: () => string;
  readonly exited: Promise<ProcessExit>;
  /** sends `signal` (default SIGKILL, kill -9) and resolves when the process is gone */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
}

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnWorkerAppOptions {
  /** Node flags before the script, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a worker */
  readonly nodeArgs?: readonly string[];
  /** how long /readyz may take to answer 200 (default 60 s: the machine may be loaded) */
  readonly readyTimeoutMs?: number;
  /** characters of output kept (default 4 MB) */
  readonly keepOutput?: number;
}

/**
 * Starts `<appDir>/src/main.ts` and resolves once its /readyz answers 200. The environment is the
 * test process's plus a free HEALTH_PORT, HEALTH_HOST=127.0.0.1, LOG_LEVEL=warn and the test keys
 * (JOB_SIGNING_KEYS, JOB_ENCRYPTION_KEYS, INTEGRATION_TOKEN_KEYS), then `env`, which wins. `appDir` may be a file URL
 * (`new URL('..', import.meta.url)` from the app's test folder).
 */
export async function spawnWorkerApp(appDir: string | URL, env: Record<string, string>, options: SpawnWorkerAppOptions = {}): Promise<WorkerAppProcess> {
  const cwd = typeof appDir === 'string' ? appDir : fileURLToPath(appDir);
  const name = basename(cwd.replace(/\/+$/, ''));
  const keep = options.keepOutput ?? 4_000_000;
  const healthPort = await freePort();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'], {
    cwd,
    env: {
      ...process.env,
      HEALTH_PORT: String(healthPort),
      HEALTH_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JOB_SIGNING_KEYS: TEST_SIGNING_KEYS,
      JOB_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      INTEGRATION_TOKEN_KEYS: TEST_TOKEN_KEYS,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > keep) out = out.slice(-keep);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`${name} exited during startup (${child.signalCode ?? `code ${child.exitCode}`}):\n${out.slice(-20_000)}`);
        return fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      { timeoutMs: options.readyTimeoutMs ?? 60_000, intervalMs: 100, what: `${name} to answer /readyz` },
    );
  } catch (err) {
    await kill();
    if ((err as Error).message.includes('timed out')) throw new Error(`${(err as Error).message}:\n${out.slice(-20_000)}`, { cause: err });
    throw err;
  }
  return { child, healthPort, output: () => out, exited, kill };
}

/** A finished Bull job as the harness reads it from Redis. */
export interface JobOutcome {
  readonly state: 'completed' | 'failed';
  /** the handler's return value (JSON-decoded), when completed */
  readonly returnValue: unknown;
  readonly failedReason: string | undefined;
  readonly attemptsMade: number;
}

export interface WorkerAppHarnessOptions {
  /** the app's folder, e.g. `new URL('..', import.meta.url)` from its test folder */
  readonly appDir: string | URL;
  /** a Redis the test owns (the integration setup's `inject('redisUrl')`) */
  readonly redisUrl: string;
  /** Bull key prefix (default: a fresh test prefix, deleted by close()) */
  readonly prefix?: string;
  /** the app's variables (DATABASE_URL of a test database, provider URLs, …); REDIS_URL and BULL_PREFIX are set */
  readonly env?: Record<string, string>;
  readonly signingKeys?: string;
  readonly encryptionKeys?: string;
  readonly spawn?: SpawnWorkerAppOptions;
}

/**
 * One worker app against a test's private Redis (and Postgres through `env`): start it, enqueue
 * with a producer signed like the app expects, wait for a job to finish (polling its Bull hash, no
 * fixed sleeps), kill -9 a process and restart it. close() stops every process and deletes the
 * test's keys.
 *
 *   const app = new WorkerAppHarness({ appDir: new URL('..', import.meta.url), redisUrl: inject('redisUrl'), env: { DATABASE_URL } });
 *   await app.start();
 *   const job = await app.enqueue(someJob, data);
 *   expect((await app.waitForJob(job)).state).toBe('completed');
 *   await app.restart(); // kill -9 and start again
 */
export class WorkerAppHarness {
  readonly prefix: string;
  readonly producer: Producer;
  /** the running processes, oldest first */
  readonly processes: WorkerAppProcess[] = [];
  private readonly ownsPrefix: boolean;
  private readonly redis: Redis;
  private readonly env: Record<string, string>;
  /** `<QUEUE>_SHARDS` of the app's environment, so that producer and harness find its jobs */
  private readonly shards: ShardCounts;

  constructor(private readonly options: WorkerAppHarnessOptions) {
    this.ownsPrefix = options.prefix === undefined;
    this.prefix = options.prefix ?? testPrefix();
    const signingKeys = options.signingKeys ?? TEST_SIGNING_KEYS;
    const encryptionKeys = options.encryptionKeys ?? TEST_ENCRYPTION_KEYS;
    this.env = {
      REDIS_URL: options.redisUrl,
      BULL_PREFIX: this.prefix,
      JOB_SIGNING_KEYS: signingKeys,
      JOB_ENCRYPTION_KEYS: encryptionKeys,
      ...options.env,
    };
    this.shards = Object.fromEntries(
      QUEUE_NAMES.flatMap((q) => {
        const n = Number(this.env[`${q.toUpperCase()}_SHARDS`] ?? 1);
        return n > 1 ? [[q, n]] : [];
      }),
    );
    this.producer = new Producer({
      redisUrl: options.redisUrl,
      prefix: this.prefix,
      security: new JobSecurity({ signingKeys, encryptionKeys }),
      shards: this.shards,
    });
    this.redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  }

  /** starts one more process of the app (`env` adds to the harness's); resolves when it is ready */
  async start(env: Record<string, string> = {}): Promise<WorkerAppProcess> {
    const proc = await spawnWorkerApp(this.options.appDir, { ...this.env, ...env }, this.options.spawn);
    this.processes.push(proc);
    return proc;
  }

  /** kill -9 (or `signal`) of a process, the oldest by default; resolves once it is gone */
  async kill(proc: WorkerAppProcess | undefined = this.processes[0], signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessExit> {
    if (!proc) throw new Error('no worker process to kill');
    const exit = await proc.kill(signal);
    this.processes.splice(this.processes.indexOf(proc), 1);
    return exit;
  }

  /** kill -9 of a process (the oldest by default), then a new one with the same environment */
  async restart(proc?: WorkerAppProcess): Promise<WorkerAppProcess> {
    await this.kill(proc);
    return this.start();
  }

  enqueue<J extends AnyJobDefinition>(job: J, data: JobInput<J>, options?: EnqueueOptions): Promise<EnqueuedJob> {
    return this.producer.enqueue(job, data, options);
  }

  /** The job once it has finished (in its queue's completed or failed set); undefined before. */
  async jobOutcome(job: Pick<EnqueuedJob, 'id' | 'queue'>): Promise<JobOutcome | undefined> {
    if (this.redis.status === 'wait') await this.redis.connect();
    for (const bullName of shardQueueNames(job.queue as QueueName, this.shards[job.queue as QueueName] ?? 1)) {
      const key = `${this.prefix}:${bullName}`;
      const [[, completed], [, failed], [, fields]] = (await this.redis
        .pipeline()
        .zscore(`${key}:completed`, job.id)
        .zscore(`${key}:failed`, job.id)
        .hmget(`${key}:${job.id}`, 'returnvalue', 'failedReason', 'attemptsMade')
        .exec()) as [[null, string | null], [null, string | null], [null, Array<string | null>]];
      if (completed === null && failed === null) continue;
      const [returnvalue, failedReason, attemptsMade] = fields;
      return {
        state: completed !== null ? 'completed' : 'failed',
        returnValue: completed !== null && returnvalue ? (JSON.parse(returnvalue) as unknown) : undefined,
        failedReason: completed !== null ? undefined : (failedReason ?? undefined),
        attemptsMade: Number(attemptsMade ?? 0),
      };
    }
    return undefined;
  }

  /** where the job is now: Bull's state on the shard holding it (`missing` when no shard knows it) */
  async jobState(job: Pick<EnqueuedJob, 'id' | 'queue'>): Promise<'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'missing'> {
    if (this.redis.status === 'wait') await this.redis.connect();
    for (const bullName of shardQueueNames(job.queue as QueueName, this.shards[job.queue as QueueName] ?? 1)) {
      const key = `${this.prefix}:${bullName}`;
      const found = (await this.redis
        .pipeline()
        .zscore(`${key}:completed`, job.id)
        .zscore(`${key}:failed`, job.id)
        .lpos(`${key}:active`, job.id)
        .zscore(`${key}:delayed`, job.id)
        .lpos(`${key}:wait`, job.id)
        .lpos(`${key}:paused`, job.id)
        .zscore(`${key}:priority`, job.id)
        .exec())!.map(([, v]) => v !== null);
      const state = (['completed', 'failed', 'active', 'delayed', 'waiting', 'waiting', 'waiting'] as const)[found.findIndex(Boolean)];
      if (state) return state;
    }
    return 'missing';
  }

  /** waits until a worker holds the job (its handler runs), e.g. before a kill -9 */
  async waitForActive(job: Pick<EnqueuedJob, 'id' | 'queue'>, options: { timeoutMs?: number } = {}): Promise<void> {
    await waitFor(async () => (await this.jobState(job)) === 'active', {
      timeoutMs: options.timeoutMs ?? 120_000,
      intervalMs: 50,
      what: `job ${job.id} on ${job.queue} to be active`,
    });
  }

  /** waits until the job finished (default up to 120 s: the machine may be loaded) */
  waitForJob(job: Pick<EnqueuedJob, 'id' | 'queue'>, options: { timeoutMs?: number } = {}): Promise<JobOutcome> {
    return waitFor(() => this.jobOutcome(job), { timeoutMs: options.timeoutMs ?? 120_000, intervalMs: 50, what: `job ${job.id} on ${job.queue} to finish` });
  }

  /** SIGTERM to every process (graceful shutdown), then the producer; the test prefix's keys are deleted */
  async close(): Promise<void> {
    await Promise.all(this.processes.splice(0).map((p) => p.kill('SIGTERM')));
    await this.producer.close();
    this.redis.disconnect();
    if (this.ownsPrefix) await deletePrefix(this.options.redisUrl, this.prefix);
  }
}
