import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections by Bull's rules (bull-v4.md §2):
 * - `client` and `subscriber` may be shared by every queue of a process; `bclient` (blocking
 *   BRPOPLPUSH) must be a new connection on every call.
 * - `bclient` and `subscriber` need `maxRetriesPerRequest: null` and `enableReadyCheck: false`,
 *   otherwise a Redis restart silently stops the worker (Bull issue #1873).
 * - Producers (the web app) disable the offline queue so that enqueue fails fast while Redis is
 *   down instead of piling up commands in memory.
 * Options are built from objects, never from URL query strings (`'false'` is truthy there).
 */
export type ConnectionRole = 'worker' | 'producer';
export type BullClientType = 'client' | 'subscriber' | 'bclient';

export function redisOptionsFromUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid Redis URL: ${redact(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`Redis URL must start with redis:// or rediss://, got ${parsed.protocol}//`);
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError(`invalid Redis database index in ${redact(url)}`);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db,
    // Managed Redis/Valkey (DigitalOcean) uses rediss:// with a public CA.
    tls: parsed.protocol === 'rediss:' ? { servername: parsed.hostname } : undefined,
  };
}

/** The URL with its password replaced, for logs and errors. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}

/** Reconnect quickly after a restart or failover, backing off to 2 s between tries. */
const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000);
/** After a failover the old primary answers READONLY: reconnect to find the new one. */
const reconnectOnError = (err: Error) => err.message.startsWith('READONLY');

export function clientOptions(base: RedisOptions, role: ConnectionRole, type: BullClientType): RedisOptions {
  if (type === 'bclient' || type === 'subscriber') {
    return { ...base, retryStrategy, reconnectOnError, maxRetriesPerRequest: null, enableReadyCheck: false };
  }
  if (role === 'producer') {
    return {
      ...base,
      retryStrategy,
      reconnectOnError,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      enableReadyCheck: true,
    };
  }
  // A worker's command client waits through a Redis restart rather than failing lock renewals
  // and completions; Bull retries its fetch loop after `retryProcessDelay`.
  return { ...base, retryStrategy, reconnectOnError, maxRetriesPerRequest: null, enableReadyCheck: true };
}

/**
 * Creates Bull's clients for every queue of one process: one shared `client`, one shared
 * `subscriber`, a fresh `bclient` per call. `close()` quits them all (Bull does not close clients
 * it did not create).
 */
export class RedisConnections {
  private readonly base: RedisOptions;
  private shared: Partial<Record<'client' | 'subscriber', Redis>> = {};
  private readonly all = new Set<Redis>();
  private closed = false;

  constructor(
    readonly url: string,
    readonly role: ConnectionRole,
    readonly connectionName?: string,
  ) {
    this.base = { ...redisOptionsFromUrl(url), connectionName };
  }

  /** Pass as Bull's `createClient` option. */
  readonly createClient = (type: BullClientType): Redis => {
    if (this.closed) throw new Error('Redis connections are closed');
    if (type === 'bclient') return this.track(new Redis(clientOptions(this.base, this.role, type)));
    const existing = this.shared[type];
    if (existing) return existing;
    const client = this.track(new Redis(clientOptions(this.base, this.role, type)));
    this.shared[type] = client;
    return client;
  };

  /** The shared command client (created on first use). */
  get client(): Redis {
    return this.createClient('client');
  }

  private track(client: Redis): Redis {
    // Errors are surfaced through the queue's 'error' event and health checks; an unhandled
    // 'error' event on a client would crash the process.
    client.on('error', () => {});
    this.all.add(client);
    client.once('end', () => this.all.delete(client));
    return client;
  }

  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.all];
    this.all.clear();
    this.shared = {};
    await Promise.all(
      clients.map(async (c) => {
        if (c.status === 'end') return;
        try {
          if (c.status === 'ready') await Promise.race([c.quit(), sleep(1000)]);
        } catch {
          // fall through to disconnect
        }
        c.disconnect();
      }),
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Waits until a client is ready, or rejects after `timeoutMs`. Resolves at once when ready. */
export function whenReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'wait') client.connect().catch(() => {});
  return new Promise((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('Redis connection ended'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    };
    client.on('ready', onReady);
    client.on('end', onEnd);
  });
}
