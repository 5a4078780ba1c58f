/**
 * The README's run command, end to end: scripts/dev.ts (what `npm run dev` runs after installing)
 * on free ports with a temporary data folder. The dashboard answers, the demo campaign's emails
 * reach the SES emulator (when an email worker app exists), `pnpm jobs status` sees the queues,
 * and SIGINT (Ctrl-C) stops everything: every port is free again and the data stays for the next
 * run.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppInfo, discoverApps, ROOT } from '../scripts/deploy/apps.js';
import { type DevService, planDevServices } from '../scripts/dev-services.js';

const STARTUP_MS = 180_000;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} within ${timeoutMs / 1000} s${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`);
}

async function freeRange(size: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(Array.from({ length: size }, (_, i) => canListen(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${size} consecutive free ports found between 10000 and 30000`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

describe('npm run dev (scripts/dev.ts)', () => {
  let apps: AppInfo[];
  let data: string;
  let proc: ChildProcess;
  let output = '';
  const ports: Record<string, number> = {};
  let devServices: DevService[] = [];
  let exit: Promise<number | null>;

  beforeAll(async () => {
    apps = await discoverApps(ROOT, () => {}); // lenient, as dev.ts is
    data = mkdtempSync(join(tmpdir(), 'coldcopy-dev-'));
    chmodSync(data, 0o755); // the postgres user (under root) must reach its cluster inside
    // Every port the stack listens on (Redis, Postgres, the dashboard, each dev server the apps need,
    // then the workers' consecutive health ports) from one block below the kernel's ephemeral range
    // (32768+, where other tests' outgoing connections land and could take a port picked there).
    const names = [...planDevServices(apps, { tsxImport: 'tsx', env: {} }).services.values()];
    const fixed = ['redis', 'postgres', 'dashboard', ...names.map((s) => s.name)];
    const base = await freeRange(fixed.length + apps.length + 1);
    fixed.forEach((k, i) => (ports[k] = base + i));
    ports.health = base + fixed.length;
    const overrides = Object.fromEntries(names.map((s) => [s.overrideEnv, String(ports[s.name])]));
    devServices = [...planDevServices(apps, { tsxImport: 'tsx', env: overrides }).services.values()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DEV_DATA_DIR: data,
      DEV_REDIS_PORT: String(ports.redis),
      DEV_POSTGRES_PORT: String(ports.postgres),
      ...overrides,
      DEV_DASHBOARD_PORT: String(ports.dashboard),
      DEV_HEALTH_PORT_BASE: String(ports.health),
      BULL_PREFIX: 'bull',
    };
    delete env.REDIS_URL;
    delete env.DATABASE_URL;
    proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    exit = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    await Promise.race([
      until('the stack did not report "ColdCopy is running"', async () => (output.includes('ColdCopy is running') ? true : undefined), STARTUP_MS),
      exit.then((code) => {
        throw new Error(`dev.ts exited early (${code}):\n${output}`);
      }),
    ]);
  }, STARTUP_MS + 10_000);

  afterAll(async () => {
    if (proc && proc.exitCode === null) {
      proc.kill('SIGINT');
      await Promise.race([exit, new Promise((r) => setTimeout(r, 60_000))]);
      if (proc.exitCode === null) proc.kill('SIGINT'); // second interrupt kills
      await exit;
    }
    if (data) rmSync(data, { recursive: true, force: true });
  }, 90_000);

  it('the dashboard answers /health with Redis reachable', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.dashboard}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { redis: { reachable: boolean } };
    expect(body.redis.reachable).toBe(true);
    expect(output).toContain(`http://localhost:${ports.dashboard}/admin/queues`);
  });

  it('every dev server the apps need (manifest devServers, the SES emulator) is up on its port', async () => {
    expect(devServices.length).toBeGreaterThan(0);
    for (const s of devServices) {
      if (s.readyUrl) expect((await fetch(s.readyUrl)).status, s.readyUrl).toBe(200);
      expect(output).toContain(s.name === 'ses' ? `http://localhost:${s.port}/` : `${s.name.padEnd(14)} 127.0.0.1:${s.port}`);
    }
  });

  it('every worker app answers /readyz on its health port and runs on the pinned Node.js major', async () => {
    const major = readFileSync(join(ROOT, '.node-version'), 'utf8').trim().split('.')[0]!;
    const workers = apps.filter((a) => a.kind === 'worker');
    for (const [i, app] of workers.entries()) {
      const res = await fetch(`http://127.0.0.1:${ports.health! + i}/readyz`);
      expect(res.status, app.name).toBe(200);
      // prom-client's nodejs_version_info names the version of the process that serves it
      const metrics = await (await fetch(`http://127.0.0.1:${ports.health! + i}/metrics`)).text();
      expect(/^nodejs_version_info\{[^}]*major="(\d+)"/m.exec(metrics)?.[1], `${app.name} Node.js major`).toBe(major);
    }
  });

  it('the demo campaign sends emails into the SES emulator (or says there is no email worker yet)', async () => {
    if (!apps.some((a) => a.queue === 'email' && a.devServices.includes('ses'))) {
      expect(output).toContain('no email worker app yet: no demo campaign');
      return;
    }
    const emails = await until(
      'no email reached the SES emulator',
      async () => {
        const res = await fetch(`http://127.0.0.1:${ports.ses}/store`);
        const body = (await res.json()) as { emails: unknown[] };
        return body.emails.length > 0 ? body.emails : undefined;
      },
      90_000,
    );
    expect(emails.length).toBeGreaterThan(0);
    expect(output).toContain(`http://localhost:${ports.ses}/`);
  }, 100_000);

  it("`pnpm jobs status` sees the queues in the stack's Redis", () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'status', '--json'], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${ports.redis}`, BULL_PREFIX: 'bull' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('email');
  });

  it('the banner names the demo workspace and campaign; its enqueue line works as printed and the CLI finds the stack by itself', async () => {
    expect(output).toMatch(/demo workspace\s+demo-\d+ [0-9a-f-]{36}/);
    expect(output).toMatch(/demo campaign\s+".+" [0-9a-f-]{36}/);
    const line = /try\s+((?:pnpm jobs|npm run jobs --) enqueue send-email --data '\{.*\}')$/m.exec(output)?.[1];
    expect(line, output.slice(-3000)).toBeDefined();
    // another terminal: none of the stack's variables set, only where its data folder is
    const env: NodeJS.ProcessEnv = { ...process.env, DEV_DATA_DIR: data };
    for (const k of ['REDIS_URL', 'BULL_PREFIX', 'JOB_SIGNING_KEYS', 'JOB_ENCRYPTION_KEYS', 'JOB_SIGNING']) delete env[k];
    const r = spawnSync('bash', ['-c', line!], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toContain(`jobs: Redis 127.0.0.1:${ports.redis}, prefix bull (from ${join(data, 'dev.env')}: npm run dev is running`);
    const jobId = /enqueued send-email on email as job (\S+)/.exec(r.stdout)?.[1];
    expect(jobId, r.stdout).toBeDefined();
    // the email worker of the stack runs it (the ledger row is not sent again)
    // ioredis is a dependency of packages/testing, not of the root
    const { Redis } = createRequire(join(ROOT, 'packages/testing/package.json'))('ioredis') as {
      Redis: new (url: string) => { hgetall(key: string): Promise<Record<string, string>>; disconnect(): void };
    };
    const redis = new Redis(`redis://127.0.0.1:${ports.redis}`);
    try {
      const job = await until(
        `job ${jobId} did not finish`,
        async () => {
          const h = await redis.hgetall(`bull:email:${jobId}`);
          return h.finishedOn ? h : undefined;
        },
        60_000,
      );
      expect(job.failedReason ?? '', JSON.stringify(job)).toBe('');
    } finally {
      redis.disconnect();
    }
    // without a global pnpm (a non-root user), the npm form the banner then prints works too
    const viaNpm = spawnSync('npm', ['run', '--silent', 'jobs', '--', 'status'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
    expect(viaNpm.status, viaNpm.stderr).toBe(0);
    expect(viaNpm.stdout).toMatch(/^queue\s+waiting/m);
  }, 120_000);

  it('SIGINT stops everything, frees every port and keeps the data', async () => {
    proc.kill('SIGINT');
    const code = await Promise.race([exit, new Promise<string>((r) => setTimeout(() => r('timeout'), 60_000))]);
    expect(code, output.slice(-3000)).toBe(0);
    const used = [
      ...Object.entries(ports)
        .filter(([k]) => k !== 'health')
        .map(([, p]) => p),
      ...apps.filter((a) => a.kind === 'worker').map((_, i) => ports.health! + i),
    ];
    for (const port of used) expect(await portFree(port), `port ${port} still in use`).toBe(true);
    const leftovers = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter((l) => l.includes(data));
    expect(leftovers).toEqual([]);
    expect(existsSync(join(data, 'postgres/data/PG_VERSION'))).toBe(true);
    expect(existsSync(join(data, 'redis'))).toBe(true);
    // the CLI no longer reads the stopped stack's Redis
    expect(existsSync(join(data, 'dev.env'))).toBe(false);
  }, 70_000);
});
