import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { findBinary, MissingBinaryError } from './binaries.js';
import { freePort, isPortFree } from './free-port.js';

export interface RedisClusterOptions {
  /** primaries (default 3, the minimum `redis-cli --cluster create` accepts) */
  readonly primaries?: number;
  /** replicas per primary (default 0) */
  readonly replicas?: number;
  /** `requirepass` (and `masterauth`) on every node */
  readonly password?: string;
}

interface ClusterNodeProcess {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  stderr: string;
}

/** Hash slots of a Redis Cluster. */
const SLOTS = 16384;

/**
 * A private Redis Cluster: `redis-server --cluster-enabled yes` processes on free loopback ports
 * (each with its cluster bus port, port + 10000, checked free too), one temp dir per node, joined
 * with `redis-cli --cluster create`. `stop()` stops only these processes and deletes the dirs;
 * if the test process exits without it, the nodes are killed on exit. Needs redis-server and
 * redis-cli (Debian: `redis-tools`); a missing binary fails with the install command.
 */
export class RedisCluster {
  private stopped = false;
  private readonly onExit = () => this.killSync();

  private constructor(
    private readonly nodes: readonly ClusterNodeProcess[],
    readonly dir: string,
    private readonly password: string | undefined,
  ) {}

  /** `127.0.0.1:<port>` of every node, primaries first as created */
  get seeds(): string[] {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`);
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port);
  }

  /** queue-core's Redis Cluster URL: `redis+cluster://[:password@]127.0.0.1:<port>,…` */
  get url(): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis+cluster://${auth}${this.seeds.join(',')}`;
  }

  /** A plain (single-node) URL of one node, for CLUSTER commands and per-node reads. */
  nodeUrl(port: number): string {
    const auth = this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`;
    return `redis://${auth}127.0.0.1:${port}`;
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const server = findBinary('redis-server');
    if (!server) throw new MissingBinaryError('redis-server', 'redis-server');
    const cli = findBinary('redis-cli');
    if (!cli) throw new MissingBinaryError('redis-cli', 'redis-tools');
    const primaries = options.primaries ?? 3;
    const replicas = options.replicas ?? 0;
    if (!Number.isInteger(primaries) || primaries < 3) throw new RangeError('a Redis Cluster needs at least 3 primaries');
    const dir = mkdtempSync(join(tmpdir(), 'coldcopy-redis-cluster-'));
    const nodes: ClusterNodeProcess[] = [];
    const cluster = new RedisCluster(nodes, dir, options.password);
    process.once('exit', cluster.onExit);
    try {
      const taken = new Set<number>();
      for (let i = 0; i < primaries * (1 + replicas); i++) {
        const port = await clusterPort(taken);
        nodes.push(startNode(server, port, join(dir, String(port)), options.password));
      }
      for (const node of nodes) await waitForPing(node, options.password);
      await createCluster(cli, cluster.seeds, replicas, options.password);
      await cluster.waitUntilHealthy(nodes.length);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** `CLUSTER KEYSLOT key` */
  async keySlot(key: string): Promise<number> {
    return this.withNode(this.nodes[0]!.port, async (c) => Number(await c.cluster('KEYSLOT', key)));
  }

  /** Port of the primary that serves `slot` (from `CLUSTER SLOTS`). */
  async primaryOf(slot: number): Promise<number> {
    const range = (await this.slotRanges()).find((r) => slot >= r.from && slot <= r.to);
    if (!range) throw new Error(`no primary serves slot ${slot}`);
    return range.primary;
  }

  /** Ports of the primaries, ascending. */
  async primaries(): Promise<number[]> {
    return [...new Set((await this.slotRanges()).map((r) => r.primary))].sort((a, b) => a - b);
  }

  private async slotRanges(): Promise<Array<{ from: number; to: number; primary: number }>> {
    const ranges = await this.withNode(this.nodes[0]!.port, (c) => c.cluster('SLOTS'));
    return ranges.map(([from, to, primary]) => ({ from: Number(from), to: Number(to), primary: Number(primary?.[1]) }));
  }

  /** Every key matching `pattern` on one node (SCAN). */
  async keysOn(port: number, pattern: string): Promise<string[]> {
    return this.withNode(port, async (c) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0');
      return keys;
    });
  }

  /** Stops the nodes (SIGTERM, then SIGKILL after 5 s) and deletes their dirs. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      await Promise.all(this.nodes.map((n) => stopChild(n.child)));
      process.removeListener('exit', this.onExit);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async withNode<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(this.nodeUrl(port), { maxRetriesPerRequest: 1, lazyConnect: true });
    client.on('error', () => {});
    try {
      await client.connect();
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  /** Every node sees every slot served and every other node. */
  private async waitUntilHealthy(count: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const states = await Promise.all(this.nodes.map((n) => this.withNode(n.port, (c) => c.cluster('INFO')).catch((err: Error) => `error: ${err.message}`)));
      const healthy = states.every((s) => /cluster_state:ok/.test(s) && s.includes(`cluster_slots_ok:${SLOTS}`) && s.includes(`cluster_known_nodes:${count}`));
      if (healthy) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster did not become healthy within 30 s:\n${states.join('\n---\n')}`);
      await sleep(100);
    }
  }

  /** Last-resort cleanup when the test process exits without stop(). */
  private killSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const n of this.nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (port + 10000 > 65535 || taken.has(port) || taken.has(port + 10000)) continue;
    if (!(await isPortFree(port + 10000))) continue;
    taken.add(port);
    taken.add(port + 10000);
    return port;
  }
  throw new Error('found no free port pair (port, port + 10000) for a Redis Cluster node');
}

function startNode(binary: string, port: number, dir: string, password: string | undefined): ClusterNodeProcess {
  mkdirSync(dir);
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '5000',
    '--save',
    '',
    '--appendonly',
    'no',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--loglevel',
    'warning',
    ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const node: ClusterNodeProcess = { port, dir, child, stderr: '' };
  child.stderr?.on('data', (d: Buffer) => (node.stderr += d.toString()));
  return node;
}

async function waitForPing(node: ClusterNodeProcess, password: string | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (node.child.exitCode !== null) throw new Error(`cluster node on ${node.port} exited with ${node.child.exitCode}: ${node.stderr}`);
    const client = new Redis({ host: '127.0.0.1', port: node.port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      if ((await client.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      client.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`cluster node on ${node.port} did not answer PING: ${node.stderr}`);
    await sleep(50);
  }
}

/** `redis-cli --cluster create`; the password goes through REDISCLI_AUTH, not the command line. */
function createCluster(cli: string, seeds: readonly string[], replicas: number, password: string | undefined): Promise<void> {
  const args = ['--cluster', 'create', ...seeds, '--cluster-replicas', String(replicas), '--cluster-yes'];
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...(password === undefined ? {} : { REDISCLI_AUTH: password }) };
    const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0 && /All 16384 slots covered/.test(output)) resolve();
      else reject(new Error(`redis-cli --cluster create failed (${code ?? signal}):\n${output}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
