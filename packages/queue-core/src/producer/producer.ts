import type Bull from 'bull';
import { createBullQueue } from '../redis/bull-queue.js';
import type { AnyJobDefinition, JobInput, JobPayload } from '../definitions/define-job.js';
import { JobValidationError, QueueUnavailableError, UnknownJobNameError, type FieldIssue } from '../definitions/errors.js';
import { type EnqueueOptions, jobIdOf, resolveEnqueueOptions } from '../definitions/job-options.js';
import { getJob } from '../jobs/index.js';
import type { QueueName } from '../definitions/queues.js';
import { jobSecurityFromEnv, type JobSecurity, type JobSigner } from '../security/job-security.js';
import { redact, RedisConnections, whenReady } from '../redis/connections.js';
import { clusterModeFromEnv, shardCountsFromEnv, shardFor, type ShardCounts } from '../redis/sharding.js';
import { toFieldIssues } from '../definitions/validation.js';
import { addJob, addJobs, type NewJob } from './add-jobs.js';

/**
 * The producer used by the Next.js app, the CLI and workers that enqueue follow-up jobs.
 * It imports no worker code, no SDK and no HTTP framework.
 */
export interface ProducerConfig {
  readonly redisUrl: string;
  /**
   * An existing connection set to enqueue through instead of opening one (the worker runtime's
   * `ctx.enqueue` shares its worker's connections: one connection set per process). `close()`
   * leaves them open; their owner closes them.
   */
  readonly connections?: RedisConnections;
  /** Bull key prefix (default `bull`) */
  readonly prefix?: string;
  /** how long an enqueue waits for a Redis connection before failing, ms (default 2000) */
  readonly connectTimeoutMs?: number;
  /** addBulk chunk size (default 500) */
  readonly bulkChunkSize?: number;
  /**
   * Signing keys (and encryption keys for sensitive fields). Default: from `JOB_SIGNING_KEYS`,
   * `JOB_ENCRYPTION_KEYS` and `JOB_SIGNING` in process.env; throws ConfigError when unset.
   */
  readonly security?: JobSecurity;
  /**
   * Shards per queue (sharding.ts): workspace jobs go to `<queue>-<fnv1a(workspaceId) mod N>`.
   * Default: `<QUEUE>_SHARDS` from process.env (1 when unset). Must match the workers'.
   */
  readonly shards?: ShardCounts;
  /** Redis Cluster key layout (sharding.ts); default: `BULL_CLUSTER`, or a prefix containing `{` */
  readonly cluster?: boolean;
  /** the furthest ahead a `delay` or `runAt` may schedule a job, ms (default one year) */
  readonly maxDelayMs?: number;
}

export interface EnqueuedJob {
  readonly id: string;
  readonly queue: QueueName;
  readonly name: string;
}

export interface BulkItem<J extends AnyJobDefinition> {
  readonly data: JobInput<J>;
  readonly options?: EnqueueOptions;
}

const CONNECTION_ERRORS =
  /Stream isn't writeable|Connection is closed|ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|max retries per request|Redis not ready|connection ended/i;

export class Producer {
  private readonly connections: RedisConnections;
  private readonly ownsConnections: boolean;
  /** by Bull queue name (one per shard) */
  private readonly queues = new Map<string, Bull.Queue>();
  private readonly prefix: string;
  private readonly connectTimeoutMs: number;
  private readonly chunkSize: number;
  private readonly security: JobSecurity;
  private readonly shards: ShardCounts;
  private readonly cluster: boolean;
  private closing: Promise<void> | undefined;

  constructor(readonly config: ProducerConfig) {
    this.prefix = config.prefix ?? 'bull';
    this.connectTimeoutMs = config.connectTimeoutMs ?? 2000;
    this.chunkSize = config.bulkChunkSize ?? 500;
    this.security = config.security ?? jobSecurityFromEnv();
    this.shards = config.shards ?? shardCountsFromEnv();
    this.cluster = config.cluster ?? clusterModeFromEnv(process.env, this.prefix);
    this.ownsConnections = config.connections === undefined;
    this.connections = config.connections ?? new RedisConnections(config.redisUrl, 'producer', 'coldcopy-producer');
  }

  /**
   * Validates `data` against the job's schema and adds it to its queue. Bad data throws a
   * `JobValidationError` naming every bad field, and nothing is written to Redis.
   */
  enqueue<J extends AnyJobDefinition>(job: J, data: JobInput<J>, options?: EnqueueOptions): Promise<EnqueuedJob>;
  enqueue(job: string, data: unknown, options?: EnqueueOptions): Promise<EnqueuedJob>;
  async enqueue(job: AnyJobDefinition | string, data: unknown, options?: EnqueueOptions): Promise<EnqueuedJob> {
    const def = this.definition(job);
    const payload = this.validate(def, data, '');
    const prepared = this.prepare(def, payload, options);
    const shard = this.shardOf(def, payload);
    // the common case without an extra await: the queue exists and Redis is connected
    const queue = this.connectedQueue(def.queue, shard) ?? (await this.readyQueue(def.queue, shard));
    try {
      const id = await addJob(queue, prepared);
      return { id: String(id), queue: def.queue, name: prepared.name };
    } catch (err) {
      throw this.translate(err);
    }
  }

  /**
   * Validates every item first (one bad item rejects the whole call, naming its index), then adds
   * them with `addBulk` in chunks. Chunks are separate MULTI transactions: if Redis fails midway,
   * earlier chunks stay queued, so give items idempotency keys when a retry of the call must not
   * duplicate them.
   */
  enqueueBulk<J extends AnyJobDefinition>(job: J, items: ReadonlyArray<BulkItem<J>>): Promise<EnqueuedJob[]>;
  enqueueBulk(job: string, items: ReadonlyArray<{ data: unknown; options?: EnqueueOptions }>): Promise<EnqueuedJob[]>;
  async enqueueBulk(job: AnyJobDefinition | string, items: ReadonlyArray<{ data: unknown; options?: EnqueueOptions }>): Promise<EnqueuedJob[]> {
    const def = this.definition(job);
    const list: unknown = items; // (Array.isArray would narrow `items`, a ReadonlyArray, to any[])
    if (!Array.isArray(list)) throw new TypeError('enqueueBulk expects an array of { data, options }');
    const issues: FieldIssue[] = [];
    // addJobs reads name, json and opts; `shard` and `at` (position in the result) ride along unread.
    const prepared: Array<NewJob & { shard: number; at: number }> = [];
    // per call, not per item: the clock, and the signing key and timestamp (one signature time per call)
    const now = Date.now();
    const signer = this.security.signer();
    let sharded = false;
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      const parsed = def.inputSchema.safeParse(item?.data);
      if (!parsed.success) {
        issues.push(...toFieldIssues(parsed.error, `[${index}]`));
        continue;
      }
      try {
        const payload = parsed.data;
        const { opts, name, json } = this.prepare(def, payload, item!.options, now, signer);
        const shard = this.shardOf(def, payload);
        if (shard !== 0) sharded = true;
        prepared.push({ name, json, opts, shard, at: prepared.length });
      } catch (err) {
        issues.push({ path: `[${index}]`, message: (err as Error).message });
      }
    }
    if (issues.length > 0) throw new JobValidationError(def.name, issues);
    if (prepared.length === 0) return [];
    // One createBulk series per shard, in chunks; the result keeps the order of `items`.
    const byShard = sharded ? groupByShard(prepared) : new Map([[0, prepared]]);
    const result = new Array<EnqueuedJob>(prepared.length);
    for (const [shard, list] of byShard) {
      const queue = await this.readyQueue(def.queue, shard);
      for (let i = 0; i < list.length; i += this.chunkSize) {
        const chunk = list.length <= this.chunkSize ? list : list.slice(i, i + this.chunkSize);
        try {
          const ids = await addJobs(queue, chunk);
          for (let n = 0; n < chunk.length; n++) result[chunk[n]!.at] = { id: String(ids[n]), queue: def.queue, name: def.name };
        } catch (err) {
          throw this.translate(err);
        }
      }
    }
    return result;
  }

  /** Validates without enqueueing (CLI dry runs, API handlers that answer 400 early). */
  validate(def: AnyJobDefinition, data: unknown, prefix = ''): JobPayload<AnyJobDefinition> {
    const parsed = def.inputSchema.safeParse(data);
    if (!parsed.success) throw new JobValidationError(def.name, toFieldIssues(parsed.error, prefix));
    return parsed.data;
  }

  /** true once close() was called */
  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Closes the queues and quits the connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
      this.queues.clear();
      if (this.ownsConnections) await this.connections.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private definition(job: AnyJobDefinition | string): AnyJobDefinition {
    if (typeof job !== 'string') return job;
    const def = getJob(job);
    if (!def) throw new UnknownJobNameError(job);
    return def;
  }

  private prepare(
    def: AnyJobDefinition,
    payload: JobPayload<AnyJobDefinition>,
    options: EnqueueOptions | undefined,
    now = Date.now(),
    signer: JobSigner | undefined = this.security.signer(),
  ): NewJob {
    const { opts, idempotencyKey } = resolveEnqueueOptions(def, options, now, this.config.maxDelayMs);
    const jobId = jobIdOf(def, payload, idempotencyKey);
    if (jobId !== undefined) opts.jobId = jobId;
    // Sensitive fields encrypted, then the stored data signed into opts (job-security.ts); the
    // JSON text signed is the one stored.
    const { json } = this.security.protectStored(def, payload, opts, signer);
    return { opts, name: def.name, json };
  }

  /** Shard of a validated payload: global jobs and unsharded queues use shard 0 (no hashing). */
  private shardOf(def: AnyJobDefinition, payload: JobPayload<AnyJobDefinition>): number {
    const n = this.shards[def.queue];
    if (n === undefined || n <= 1) return 0;
    return shardFor((payload as { workspaceId?: string }).workspaceId, n);
  }

  private connectedQueue(name: QueueName, shard: number): Bull.Queue | undefined {
    if (this.closing || this.connections.client.status !== 'ready') return undefined;
    return this.queues.get(shard === 0 ? name : `${name}-${shard}`);
  }

  private async readyQueue(name: QueueName, shard = 0): Promise<Bull.Queue> {
    if (this.closing) throw new QueueUnavailableError('producer is closed');
    const key = shard === 0 ? name : `${name}-${shard}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = createBullQueue(name, {
        prefix: this.prefix,
        connections: this.connections,
        skipVersionCheck: true,
        shard,
        cluster: this.cluster,
      });
      queue.on('error', () => {}); // surfaced through the rejected enqueue instead
      this.queues.set(key, queue);
    }
    const client = this.connections.client;
    if (client.status !== 'ready') {
      try {
        await whenReady(client, this.connectTimeoutMs);
      } catch (err) {
        throw new QueueUnavailableError(`Redis at ${redact(this.config.redisUrl)} is unavailable: ${(err as Error).message}`, { cause: err });
      }
    }
    return queue;
  }

  private translate(err: unknown): Error {
    if (err instanceof Error && CONNECTION_ERRORS.test(err.message)) {
      return new QueueUnavailableError(`Redis is unavailable: ${err.message}`, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }
}

function groupByShard<T extends { readonly shard: number }>(items: readonly T[]): Map<number, T[]> {
  const byShard = new Map<number, T[]>();
  for (const item of items) {
    const list = byShard.get(item.shard);
    if (list) list.push(item);
    else byShard.set(item.shard, [item]);
  }
  return byShard;
}

export function createProducer(config: ProducerConfig): Producer {
  return new Producer(config);
}

const GLOBAL_KEY = Symbol.for('coldcopy.queue-core.producers');
type ProducerCache = Map<string, Producer>;

/**
 * One producer per process, kept on `globalThis` so that Next.js dev hot reload (which re-evaluates
 * modules) reuses it instead of opening new Redis connections on every edit.
 */
export function getProducer(config: ProducerConfig): Producer {
  const store = globalThis as unknown as Record<symbol, ProducerCache | undefined>;
  const cache = (store[GLOBAL_KEY] ??= new Map<string, Producer>());
  const key = `${config.redisUrl}|${config.prefix ?? 'bull'}`;
  let producer = cache.get(key);
  if (!producer || producer.closed) {
    producer = new Producer(config);
    cache.set(key, producer);
  }
  return producer;
}
