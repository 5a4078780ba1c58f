import calculateSlot from 'cluster-key-slot';
import { Cluster, type ClusterOptions, type DNSLookupFunction, Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections by Bull's rules (bull-v4.md §2):
 * - `client` and `subscriber` may be shared by every queue of a process; `bclient` (blocking
 *   BRPOPLPUSH) must be a new connection on every call.
 * - `bclient` and `subscriber` need `maxRetriesPerRequest: null` and `enableReadyCheck: false`,
 *   otherwise a Redis restart silently stops the worker (Bull issue #1873).
 * - Producers (the web app) disable the offline queue so that enqueue fails fast while Redis is
 *   down instead of piling up commands in memory.
 * Options are built from objects, never from URL query strings (`'false'` is truthy there).
 *
 * Redis Cluster: a URL with the scheme `redis+cluster://` or `rediss+cluster://` (TLS) and one or
 * more comma-separated seed nodes, e.g. `rediss+cluster://default:pw@node-a:6379,node-b:6379`.
 * Every client is then an ioredis `Cluster` with the same per-role options on its node
 * connections, and Bull's keys use one hash tag per queue (sharding.ts `bullKeyLayout`).
 */
export type ConnectionRole = 'worker' | 'producer';
export type BullClientType = 'client' | 'subscriber' | 'bclient';
/** A single-node client or a Redis Cluster client: the same command API. */
export type RedisClient = Redis | Cluster;

export interface ClusterNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** Where a URL points: one server (`options` as for `new Redis`) or a Redis Cluster's seed nodes. */
export type RedisTarget =
  | { readonly cluster: false; readonly options: RedisOptions }
  | {
      readonly cluster: true;
      readonly nodes: readonly ClusterNodeAddress[];
      /** options of every node connection: credentials, TLS (no host, port or db) */
      readonly options: RedisOptions;
    };

const CLUSTER_SCHEME = /^(rediss?)\+cluster:\/\//i;

/** true for `redis+cluster://…` and `rediss+cluster://…` URLs. */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEME.test(url.trim());
}

/**
 * Parses a Redis URL: `redis://`, `rediss://` (TLS), or the cluster form
 * `redis+cluster://[user:password@]host:port[,host:port…]` / `rediss+cluster://…`. Errors are
 * TypeErrors that name `variable` and never contain the password.
 */
export function redisTargetFromUrl(url: string, variable = 'REDIS_URL'): RedisTarget {
  try {
    return isClusterUrl(url) ? parseClusterUrl(url.trim()) : { cluster: false, options: parseServerUrl(url) };
  } catch (err) {
    throw new TypeError(`${variable}: ${(err as Error).message}`, { cause: err });
  }
}

/** Options for `new Redis` from a single-server URL (a cluster URL is refused: use redisTargetFromUrl). */
export function redisOptionsFromUrl(url: string, variable = 'REDIS_URL'): RedisOptions {
  const target = redisTargetFromUrl(url, variable);
  if (target.cluster) throw new TypeError(`${variable}: a Redis Cluster URL needs a cluster client (RedisConnections)`);
  return target.options;
}

/** The reason a URL is refused (without the variable name), or undefined when it is valid. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    if (isClusterUrl(url)) parseClusterUrl(url.trim());
    else parseServerUrl(url);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function parseServerUrl(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // never echo the URL: when it does not parse, the password cannot be located to hide it
    throw new TypeError('invalid Redis URL (expected redis://[user:password@]host:port[/db])');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(
      `Redis URL must start with redis:// or rediss:// (or redis+cluster:// / rediss+cluster:// for Redis Cluster), got ${parsed.protocol}//`,
    );
  }
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError(`invalid Redis database index "${parsed.pathname.slice(1)}"`);
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

/**
 * `redis+cluster://[user[:password]@]host[:port][,host[:port]…][/0]`. The credentials are taken up
 * to the last `@`, so a password may hold any character, though `%` must be percent-encoded as in
 * any URL. Query strings are refused: options come from code, not from the URL.
 */
function parseClusterUrl(url: string): RedisTarget {
  const scheme = CLUSTER_SCHEME.exec(url);
  if (!scheme) throw new TypeError('not a Redis Cluster URL');
  const tls = scheme[1]!.toLowerCase() === 'rediss';
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@');
  const userinfo = at === -1 ? '' : rest.slice(0, at);
  const afterAt = rest.slice(at + 1);
  const end = afterAt.search(/[/?#]/);
  const hostList = end === -1 ? afterAt : afterAt.slice(0, end);
  const tail = end === -1 ? '' : afterAt.slice(end);
  if (/[?#]/.test(tail)) throw new TypeError('query strings and fragments are not supported in a Redis Cluster URL');
  if (tail !== '' && tail !== '/' && tail !== '/0') {
    throw new TypeError('Redis Cluster has only database 0: remove the path from the URL');
  }
  let username: string | undefined;
  let password: string | undefined;
  if (userinfo !== '') {
    const colon = userinfo.indexOf(':');
    const rawUser = colon === -1 ? userinfo : userinfo.slice(0, colon);
    const rawPassword = colon === -1 ? '' : userinfo.slice(colon + 1);
    try {
      username = rawUser ? decodeURIComponent(rawUser) : undefined;
      password = rawPassword ? decodeURIComponent(rawPassword) : undefined;
    } catch {
      throw new TypeError('malformed percent-encoding in the credentials of the Redis Cluster URL');
    }
  }
  const nodes: ClusterNodeAddress[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of hostList.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') continue;
    const node = parseNode(entry, index + 1);
    const key = `${node.host}:${node.port}`;
    if (!seen.has(key)) nodes.push(node);
    seen.add(key);
  }
  if (nodes.length === 0) throw new TypeError('a Redis Cluster URL needs at least one host:port');
  // No fixed servername: each node connection uses its own host name for SNI and the certificate.
  return { cluster: true, nodes, options: { username, password, tls: tls ? {} : undefined } };
}

function parseNode(entry: string, position: number): ClusterNodeAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(entry);
  const port = m?.[3] === undefined ? 6379 : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    // the entry is not echoed: with a missing `@`, it could be `user:password`
    throw new TypeError(`invalid Redis Cluster node #${position}: expected host:port`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** The URL with its password replaced, for logs and errors. */
export function redact(url: string): string {
  // up to the last `@`: a password may contain `/` or `@` (cluster URLs accept that)
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^:@/]*):(.*)@/, '$1$2:***@');
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
 * Options of a Redis Cluster client for one role and Bull client type. The per-role options of
 * `clientOptions` go to every node connection (`redisOptions`, which is also what Bull checks for
 * bclient/subscriber); reconnecting and the offline queue are the Cluster's own settings (ioredis
 * never reconnects a node connection: it refreshes the slot map and reconnects the cluster).
 */
export function clusterClientOptions(nodeBase: RedisOptions, role: ConnectionRole, type: BullClientType): ClusterOptions {
  const { retryStrategy: clusterRetryStrategy, reconnectOnError: _reconnect, enableOfflineQueue, ...redisOptions } = clientOptions(nodeBase, role, type);
  return {
    redisOptions,
    clusterRetryStrategy: clusterRetryStrategy ?? undefined,
    // producers: enqueue fails at once while the cluster is unreachable
    enableOfflineQueue: enableOfflineQueue ?? true,
    // the Cluster's own check (CLUSTER INFO says cluster_state:ok), not the node option Bull checks
    enableReadyCheck: true,
    slotsRefreshTimeout: 2000,
    // TLS: connect by host name so that every node's certificate is checked against its name
    // (ioredis resolves seed names to IP addresses otherwise)
    ...(nodeBase.tls ? { dnsLookup: keepHostName } : {}),
  };
}

const keepHostName: DNSLookupFunction = (hostname, callback) => callback(null, hostname);

/**
 * Bull names a worker's blocking client with `CLIENT SETNAME <prefix>:<base64 queue name>` (its
 * `setWorkerName`), and the dashboard counts a queue's workers by that name in CLIENT LIST. The
 * command carries no key, so a Cluster would send it to a random primary, and the name would be
 * lost for good when that connection is replaced (a reconnect, Bull's local pause/resume, the
 * primary restarting). Here the name goes to the connection of the primary that serves the
 * queue's slot (the name carries the queue's hash tag: the connection that blocks in BRPOPLPUSH),
 * and again after every reconnect of the cluster and every new connection to a primary.
 */
function keepWorkerNameOnSlotOwner(cluster: Cluster): void {
  let name: string | undefined;
  const setName = cluster.client.bind(cluster) as (...args: unknown[]) => Promise<unknown>;
  const apply = async (): Promise<void> => {
    if (name === undefined || cluster.status !== 'ready') return;
    // computed here: a command on this client may queue behind its own blocking BRPOPLPUSH
    const owner = cluster.slots[calculateSlot(name)]?.[0];
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    // unknown owner (slot map being refreshed): the next 'ready' or '+node' applies it. On the
    // owner's connection the name queues behind a BRPOPLPUSH in progress: it shows within Bull's
    // drain delay (5 s).
    if (node) await node.client('SETNAME', name);
  };
  const applyQuietly = () => void apply().catch(() => undefined);
  (cluster as unknown as { client: (...args: unknown[]) => Promise<unknown> }).client = (subcommand: unknown, ...args: unknown[]) => {
    if (typeof subcommand === 'string' && subcommand.toLowerCase() === 'setname' && typeof args[0] === 'string') {
      name = args[0];
      // never rejects: Bull does not catch it (an unhandled rejection), and a failed attempt is
      // made good on the next 'ready' or '+node'
      return apply().then(
        () => 'OK',
        () => 'OK',
      );
    }
    return setName(subcommand, ...args);
  };
  cluster.on('ready', applyQuietly);
  cluster.on('+node', applyQuietly);
}

/**
 * Creates Bull's clients for every queue of one process: one shared `client`, one shared
 * `subscriber`, a fresh `bclient` per call; ioredis `Cluster` clients when the URL is a Redis
 * Cluster URL. `close()` quits them all (Bull does not close clients it did not create).
 */
export class RedisConnections {
  /** true when the URL is a Redis Cluster URL: every client is an ioredis `Cluster` */
  readonly cluster: boolean;
  private readonly target: RedisTarget;
  private shared: Partial<Record<'client' | 'subscriber', RedisClient>> = {};
  private readonly all = new Set<RedisClient>();
  private closed = false;

  constructor(
    readonly url: string,
    readonly role: ConnectionRole,
    readonly connectionName?: string,
  ) {
    const target = redisTargetFromUrl(url);
    this.target = { ...target, options: { ...target.options, connectionName } };
    this.cluster = target.cluster;
  }

  /** Pass as Bull's `createClient` option. */
  readonly createClient = (type: BullClientType): RedisClient => {
    if (this.closed) throw new Error('Redis connections are closed');
    if (type === 'bclient') return this.track(this.newClient(type));
    const existing = this.shared[type];
    if (existing) return existing;
    const client = this.track(this.newClient(type));
    this.shared[type] = client;
    return client;
  };

  /**
   * The shared command client (created on first use). Typed as `Redis` for existing callers; with
   * a cluster URL it is an ioredis `Cluster`, which has the same command methods. On a cluster,
   * MULTI, multi-key commands and Lua scripts must keep all their keys in one hash slot (one
   * `{hash tag}`); see `commandClient` for the exact type.
   */
  get client(): Redis {
    return this.createClient('client') as Redis;
  }

  /** The shared command client with its exact type. */
  get commandClient(): RedisClient {
    return this.createClient('client');
  }

  private newClient(type: BullClientType): RedisClient {
    const target = this.target;
    if (!target.cluster) return new Redis(clientOptions(target.options, this.role, type));
    const cluster = new Cluster(
      target.nodes.map((n) => ({ host: n.host, port: n.port })),
      clusterClientOptions(target.options, this.role, type),
    );
    if (type === 'bclient') keepWorkerNameOnSlotOwner(cluster);
    return cluster;
  }

  private track<C extends RedisClient>(client: C): C {
    // Errors are surfaced through the queue's 'error' event and health checks; an unhandled
    // 'error' event on a client would crash the process.
    client.on('error', () => {});
    // Kept after 'end' too: Bull's close() and pause() end a bclient and connect it again
    // (`whenCurrentJobsFinished`), and that connection is still ours to quit.
    this.all.add(client);
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

/** One wait per client that is not ready yet, shared by every caller (see whenReady). */
const pendingReady = new WeakMap<RedisClient, Promise<void>>();

/**
 * Waits until a client is ready, or rejects after `timeoutMs`. Resolves at once when ready.
 * Callers that wait at the same time share one wait, so one pair of `ready`/`end` listeners is on
 * the client however many enqueues arrive before it connects (50 concurrent enqueues used to add
 * 50 pairs: MaxListenersExceededWarning on the shared client).
 */
export function whenReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  let wait = pendingReady.get(client);
  if (!wait) {
    wait = waitUntilReady(client, timeoutMs).finally(() => pendingReady.delete(client));
    pendingReady.set(client, wait);
  }
  return wait;
}

function waitUntilReady(client: RedisClient, timeoutMs: number): Promise<void> {
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
