/**
 * The local stack behind `npm run dev` (scripts/dev.sh installs what is missing, then runs this).
 *
 *   npm run dev             Redis + Postgres in .data/ (or REDIS_URL / DATABASE_URL), migrations,
 *                           demo data, the dev servers the apps need (the SES emulator, provider
 *                           emulators: scripts/dev-services.ts), every app in apps/, a demo campaign
 *   npm run dev -- --reset  wipe .data/ first
 *   npm run dev -- --plan   print what would start (dev servers, apps, ports, dev env) as JSON
 *
 * Ctrl-C stops the apps (SIGTERM, their graceful shutdown), then the dev servers, Redis and Postgres;
 * data stays in .data/ for the next run. A second Ctrl-C kills what is left.
 * Ports (env to override): Redis 6390 (DEV_REDIS_PORT), Postgres 5490 (DEV_POSTGRES_PORT), a dev
 * server at its manifest port (DEV_<NAME>_PORT: SES emulator 8005, DEV_SES_PORT), web apps at their manifest port (dashboard 3000, DEV_DASHBOARD_PORT),
 * worker health ports from 9464 (DEV_HEALTH_PORT_BASE); DEV_DATA_DIR instead of .data/.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DEV_ENV_FILE, shellQuote } from '../packages/cli/src/connection.js';
import { findBinary, postgresBinDirs } from '../packages/testing/src/binaries.js';
import { type AppInfo, discoverApps, ROOT } from './deploy/apps.js';
import { devAppEnv, devEnvOf, DevServiceError, type DevServicePlan, planDevServices } from './dev-services.js';

/** DEV_DATA_DIR moves the data folder (the stack's own test uses a temporary one). */
const DATA = process.env.DEV_DATA_DIR ? resolve(process.env.DEV_DATA_DIR) : join(ROOT, '.data');
const TSX = import.meta.resolve('tsx');
const COLORS = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];
const isTty = process.stdout.isTTY;
const paint = (code: number, s: string) => (isTty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = (s: string) => (isTty ? `\x1b[1m${s}\x1b[0m` : s);

function say(line: string): void {
  process.stdout.write(`${paint(1, '[dev]')} ${line}\n`);
}

class DevError extends Error {}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DevError(`${name}=${raw} is not a port number`);
  return n;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

async function requirePort(port: number, what: string, envName: string): Promise<void> {
  if (!(await portFree(port))) {
    throw new DevError(`port ${port} (${what}) is already in use: stop what listens there (\`ss -ltnp | grep :${port}\`) or set ${envName} to another port`);
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new DevError(`${what} exited during startup (see its log lines above)`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new DevError(`${what} did not become ready within ${timeoutMs / 1000} s`);
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000);
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      resolve(d.toString().startsWith('+PONG'));
      sock.destroy();
    });
    sock.once('timeout', () => (resolve(false), sock.destroy()));
    sock.once('error', () => resolve(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
  return res.ok;
}

// ---------------------------------------------------------------- child processes and their logs

interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  exited: boolean;
  readonly done: Promise<void>;
}

const children: Child[] = [];

/** Readable log line: winston JSON becomes `time level message key=value…`. */
function formatLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const { level, message, timestamp, time: t, app: _app, ...rest } = rec;
    if (typeof message !== 'string') return line;
    const stamp = typeof timestamp === 'string' ? timestamp : typeof t === 'string' ? t : '';
    const time = stamp.slice(11, 19);
    const lvl = typeof level === 'string' ? level : '';
    const lvlText = lvl === 'error' ? paint(31, lvl) : lvl === 'warn' ? paint(33, lvl) : paint(2, lvl);
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${paint(2, time)} ${lvlText} ${message}${extra ? ` ${paint(2, extra)}` : ''}`;
  } catch {
    return line;
  }
}

function start(name: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; color: number; oneShot?: boolean }): Child {
  // own process group: Ctrl-C reaches only this script, which stops the children in order
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = paint(opts.color, `[${name}]`.padEnd(16));
  for (const stream of [proc.stdout, proc.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix} ${formatLine(line)}\n`));
  }
  const child: Child = {
    name,
    proc,
    exited: false,
    done: new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        child.exited = true;
        if (opts.oneShot && code === 0) {
          // a task that finished
        } else if (!stopping) say(paint(31, `${name} exited (${signal ?? `code ${code}`})`));
        else say(`${name} stopped (${signal ?? `code ${code}`})`);
        resolve();
      });
      proc.once('error', (err) => {
        say(paint(31, `${name} failed to start: ${err.message}`));
        child.exited = true;
        resolve();
      });
    }),
  };
  children.push(child);
  return child;
}

function signalGroup(child: Child, signal: NodeJS.Signals): void {
  if (child.exited || child.proc.pid === undefined) return;
  try {
    process.kill(-child.proc.pid, signal);
  } catch {
    // already gone
  }
}

async function stopChildren(list: Child[], graceMs: number): Promise<void> {
  for (const c of list) signalGroup(c, 'SIGTERM');
  const timer = setTimeout(() => {
    for (const c of list) if (!c.exited) say(paint(33, `${c.name} did not stop within ${graceMs / 1000} s: killing it`));
    for (const c of list) signalGroup(c, 'SIGKILL');
  }, graceMs);
  await Promise.all(list.map((c) => c.done));
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------- Redis

async function startRedis(port: number): Promise<Child> {
  const bin = findBinary('redis-server');
  if (!bin) throw new DevError('redis-server is not installed: sudo apt-get install -y redis-server (or set REDIS_URL)');
  await requirePort(port, 'Redis', 'DEV_REDIS_PORT');
  const dir = join(DATA, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = start(
    'redis',
    bin,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--loglevel',
      'warning',
      '--daemonize',
      'no',
    ],
    { color: 31 },
  );
  await waitFor(
    'redis-server',
    () => redisPing(port),
    20_000,
    () => !child.exited,
  );
  return child;
}

// ---------------------------------------------------------------------------------- Postgres

/** A persistent private cluster in .data/postgres (durable settings, unlike the test harness). */
class DevPostgres {
  readonly dir = join(DATA, 'postgres');
  readonly dataDir = join(this.dir, 'data');
  readonly sockDir = join(this.dir, 'sock');
  private readonly binDir: string;
  private readonly asPostgres: boolean;

  constructor(readonly port: number) {
    const initdb = findBinary('initdb', postgresBinDirs());
    if (!initdb) throw new DevError('PostgreSQL is not installed: sudo apt-get install -y postgresql (or set DATABASE_URL)');
    this.binDir = dirname(initdb);
    this.asPostgres = process.getuid?.() === 0;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/coldcopy`;
  }

  private cmd(bin: string, args: string[]): [string, string[]] {
    const path = join(this.binDir, bin);
    return this.asPostgres ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  private run(bin: string, args: string[]): void {
    const [c, a] = this.cmd(bin, args);
    const r = spawnSync(c, a, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) {
      let tail = '';
      try {
        tail = readFileSync(join(this.dir, 'server.log'), 'utf8').split('\n').slice(-15).join('\n');
      } catch {
        // no log yet
      }
      throw new DevError(`${bin} ${args[0]} failed: ${(r.stderr || r.error?.message || '').trim()}\n${tail}`);
    }
  }

  running(): boolean {
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) return false;
    const [c, a] = this.cmd('pg_ctl', ['status', '-D', this.dataDir]);
    return spawnSync(c, a, { stdio: 'ignore' }).status === 0;
  }

  async start(): Promise<void> {
    let owner: { uid: number; gid: number } | undefined;
    if (this.asPostgres) {
      const line = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith('postgres:'));
      const f = line?.split(':');
      if (!f) throw new DevError('PostgreSQL refuses to run as root and there is no `postgres` user: sudo apt-get install -y postgresql');
      owner = { uid: Number(f[2]), gid: Number(f[3]) };
    }
    if (this.running()) {
      say('Postgres from an earlier run is still up: restarting it');
      this.stop();
    }
    await requirePort(this.port, 'Postgres', 'DEV_POSTGRES_PORT');
    mkdirSync(this.sockDir, { recursive: true });
    if (owner) for (const d of [this.dir, this.sockDir]) chownSync(d, owner.uid, owner.gid);
    if (!existsSync(join(this.dataDir, 'PG_VERSION'))) {
      say(`creating a Postgres cluster in ${this.dataDir}`);
      this.run('initdb', ['-D', this.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
    }
    const opts = [`-p ${this.port}`, '-c listen_addresses=127.0.0.1', `-k ${this.sockDir}`, '-c TimeZone=UTC', '-c max_connections=100'].join(' ');
    this.run('pg_ctl', ['start', '-D', this.dataDir, '-w', '-t', '60', '-l', join(this.dir, 'server.log'), '-o', opts]);
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    const [c, a] = this.cmd('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
    spawnSync(c, a, { stdio: 'ignore' });
  }
}

function requireFrom(pkgDir: string) {
  return createRequire(join(pkgDir, 'package.json'));
}

/** The slice of node-postgres used here (pg is a dependency of packages/db, not of the root). */
interface PgClient {
  connect(): Promise<void>;
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
  end(): Promise<void>;
}
const pgClient = (connectionString: string): PgClient => {
  const pg = requireFrom(join(ROOT, 'packages/db'))('pg') as { Client: new (c: { connectionString: string }) => PgClient };
  return new pg.Client({ connectionString });
};

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = pgClient(admin.toString());
  await client.connect();
  try {
    const { rowCount } = await client.query<unknown>('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      say(`creating database ${name}`);
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    }
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------- the stack

let stopping = false;
const servers: { redis?: Child; postgres?: DevPostgres; dev: Child[] } = { dev: [] };

/** The stack's settings for other terminals and the CLI (resolveSettings in packages/cli). */
const devEnvFile = join(DATA, DEV_ENV_FILE);

/** Gone with the stack, so that the CLI stops reading a Redis that is no longer there. */
function removeDevEnv(): void {
  rmSync(devEnvFile, { force: true });
}

async function shutdown(): Promise<void> {
  removeDevEnv();
  const apps = children.filter((c) => c !== servers.redis && !servers.dev.includes(c));
  say('stopping the apps (graceful shutdown; Ctrl-C again to kill)…');
  await stopChildren(apps, 30_000);
  if (servers.dev.length) await stopChildren(servers.dev, 5_000);
  if (servers.redis) {
    say('stopping Redis (AOF flushed to .data/redis)');
    await stopChildren([servers.redis], 15_000);
  }
  if (servers.postgres) {
    say('stopping Postgres (.data/postgres)');
    servers.postgres.stop();
  }
}

function onSignal(): void {
  if (stopping) {
    say(paint(33, 'second interrupt: killing everything now'));
    removeDevEnv();
    for (const c of children) signalGroup(c, 'SIGKILL');
    servers.postgres?.stop('immediate');
    process.exit(130);
  }
  stopping = true;
  shutdown().then(
    () => {
      say('stopped; data kept in .data/ (npm run dev -- --reset wipes it)');
      process.exit(0);
    },
    (err: Error) => {
      say(paint(31, `shutdown failed: ${err.message}`));
      process.exit(1);
    },
  );
}

/**
 * Job signing and field encryption keys for the local stack, made once and kept in the data folder
 * (jobs already in Redis stay verifiable across restarts). Variables given in the environment win.
 */
function devSecrets(): Record<string, string> {
  const file = join(DATA, 'dev-secrets.json');
  let secrets: Record<string, string>;
  if (existsSync(file)) secrets = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  else {
    secrets = {
      JOB_SIGNING_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
      JOB_ENCRYPTION_KEYS: `dev1:${randomBytes(32).toString('base64')}`,
    };
    writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  }
  for (const k of Object.keys(secrets)) if (process.env[k]) secrets[k] = process.env[k]!;
  return secrets;
}

/**
 * The demo tick's slot, `20250709T1432Z`: the current minute (the scheduler uses 5-minute slots),
 * so that restarting the stack a minute later runs a new tick instead of a no-op duplicate.
 */
function currentSlot(now = new Date()): string {
  const d = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z`;
}

/** Enrolments per demo campaign made due at each start, so the demo sends at once. */
const DEMO_DUE_PER_CAMPAIGN = 10;

async function enqueueDemoCampaigns(redisUrl: string, databaseUrl: string, prefix: string, secrets: Record<string, string>): Promise<number> {
  const client = pgClient(databaseUrl);
  await client.connect();
  let rows: { id: string; workspace_id: string; name: string }[];
  try {
    ({ rows } = await client.query<{ id: string; workspace_id: string; name: string }>(
      `SELECT c.id, c.workspace_id, c.name FROM campaigns c JOIN workspaces w ON w.id = c.workspace_id
        WHERE w.slug LIKE 'demo-%' AND c.status = 'active' ORDER BY c.created_at`,
    ));
    // Local demo only: the seeded campaigns send 09:00-17:00 New York time on weekdays, have used
    // up today's limits and most enrolments are due later. Open the window around the clock, lift
    // the daily limits and make a few enrolments due now, so mail shows up in the SES emulator
    // whenever the stack starts.
    const ids = rows.map((r) => r.id);
    if (ids.length > 0) {
      await client.query(
        `UPDATE campaigns SET schedule_settings = (schedule_settings - 'excludeWeekends')
           || '{"sendBetween": {"start": "00:00", "end": "23:59"}, "excludeWeekends": false}'::jsonb,
           daily_limit = GREATEST(daily_limit, 10000)
          WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      await client.query(
        `UPDATE mailboxes SET daily_cap = GREATEST(daily_cap, 10000)
          WHERE status = 'active' AND workspace_id IN (SELECT workspace_id FROM campaigns WHERE id = ANY($1::uuid[]))`,
        [ids],
      );
      const due = await client.query<unknown>(
        `UPDATE campaign_leads cl SET next_email_at = now() - interval '1 minute'
          FROM (SELECT id, row_number() OVER (PARTITION BY campaign_id ORDER BY next_email_at, id) AS n
                  FROM campaign_leads
                 WHERE campaign_id = ANY($1::uuid[]) AND status IN ('pending', 'in_progress')
                   AND next_email_at > now()) d
         WHERE cl.id = d.id AND d.n <= $2`,
        [ids, DEMO_DUE_PER_CAMPAIGN],
      );
      say(`demo: send window open around the clock, daily limits lifted, ${due.rowCount ?? 0} enrolments made due now`);
    }
  } finally {
    await client.end();
  }
  const { Producer } = await import('../packages/queue-core/src/producer/producer.js');
  const { sendBulkEmail } = await import('../packages/queue-core/src/jobs/email.jobs.js');
  const { jobSecurityFromEnv } = await import('../packages/queue-core/src/security/job-security.js');
  const producer = new Producer({ redisUrl, prefix, security: jobSecurityFromEnv({ ...process.env, ...secrets }) });
  try {
    const windowSlot = currentSlot();
    for (const c of rows) {
      const job = await producer.enqueue(sendBulkEmail, { workspaceId: c.workspace_id, campaignId: c.id, windowSlot });
      say(`enqueued send-bulk-email for "${c.name}" (job ${job.id})`);
    }
  } finally {
    await producer.close();
  }
  return rows.length;
}

/**
 * How to run the CLI here: `pnpm jobs` when the pinned pnpm is on PATH; otherwise (a non-root user
 * without a global pnpm, for whom scripts/lib.sh runs pnpm through npx) `npm run jobs --`.
 */
function jobsCommand(): string {
  const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager.split('@')[1];
  const found = spawnSync('pnpm', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return found.status === 0 && found.stdout.trim() === pinned ? 'pnpm jobs' : 'npm run jobs --';
}

/** Real ids for the banner: the first demo workspace, its first campaign and one of its ledger rows. */
async function demoIds(databaseUrl: string) {
  const client = pgClient(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ workspace_id: string; slug: string; campaign_id: string; name: string; email_id: string; status: string }>(
      `SELECT w.id AS workspace_id, w.slug, c.id AS campaign_id, c.name, e.id AS email_id, e.status
         FROM workspaces w
         JOIN campaigns c ON c.workspace_id = w.id
         JOIN LATERAL (SELECT id, status FROM campaign_emails
                        WHERE workspace_id = w.id AND campaign_id = c.id
                        ORDER BY (status = 'sent') DESC, id LIMIT 1) e ON true
        WHERE w.slug LIKE 'demo-%'
        ORDER BY w.created_at, c.created_at LIMIT 1`,
    );
    const r = rows[0];
    return (
      r && {
        workspaceId: r.workspace_id,
        slug: r.slug,
        campaignId: r.campaign_id,
        campaignName: r.name,
        campaignEmailId: r.email_id,
        campaignEmailStatus: r.status,
      }
    );
  } finally {
    await client.end();
  }
}

/** Each app's port: a web app's own (DEV_<APP>_PORT), workers' health ports counting up from DEV_HEALTH_PORT_BASE. */
function appPortsOf(apps: readonly AppInfo[]): { app: AppInfo; port: number; portEnv: string }[] {
  const healthBase = envPort('DEV_HEALTH_PORT_BASE', 9464);
  let w = 0;
  return apps.map((app) => {
    const portEnv = app.kind === 'web' ? `DEV_${app.name.toUpperCase().replace(/-/g, '_')}_PORT` : 'DEV_HEALTH_PORT_BASE';
    return { app, port: app.kind === 'web' ? envPort(portEnv, app.port) : healthBase + w++, portEnv };
  });
}

/**
 * `npm run dev -- --plan`: what the stack would start, as JSON, starting nothing (the dev servers,
 * then each app with its port and the devEnv it would get; {{redisUrl}}/{{databaseUrl}} as such).
 */
function printPlan(apps: readonly AppInfo[]): void {
  const plan = planDevServices(apps, { tsxImport: TSX });
  const vars = { redisUrl: '{{redisUrl}}', databaseUrl: '{{databaseUrl}}' };
  const out = {
    devServers: plan.processes.map((p) => ({ label: p.label, cwd: p.cwd, args: p.args, env: p.env, services: p.services })),
    apps: appPortsOf(apps).map(({ app, port }) => ({
      name: app.name,
      kind: app.kind,
      queue: app.queue,
      cwd: app.dir,
      command: ['node', '--import', 'tsx', 'src/main.ts'],
      [app.portVar]: port,
      readyPath: app.readyPath,
      devServices: app.devServices,
      devEnv: devEnvOf(app, plan, vars, {}),
    })),
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

/** The dev servers (before the apps), each waited for on its `ready` path. */
async function startDevServers(plan: DevServicePlan): Promise<void> {
  const started = plan.processes.map((p, i) => {
    const child = start(p.label, p.command, [...p.args], { cwd: p.cwd, env: { ...process.env, ...p.env }, color: [94, 95, 96, 93][i % 4]! });
    servers.dev.push(child);
    return { p, child };
  });
  await Promise.all(
    started.flatMap(({ p, child }) =>
      p.services.flatMap((s) =>
        s.readyUrl
          ? [
              waitFor(
                `dev service ${s.name}`,
                () => httpOk(s.readyUrl!),
                30_000,
                () => !child.exited,
              ),
            ]
          : [],
      ),
    ),
  );
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(
      readFileSync(new URL(import.meta.url), 'utf8')
        .split('*/')[0]!
        .replace(/^\/\*\*\n/, '')
        .replace(/^ \* ?/gm, '') + '\n',
    );
    return;
  }
  const unknown = argv.filter((a) => a !== '--reset' && a !== '--plan' && a !== '--');
  if (unknown.length) throw new DevError(`unknown argument(s): ${unknown.join(' ')} (try --help)`);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  const apps = await discoverApps(ROOT, (name, reason) => say(paint(33, `skipping apps/${name}: ${reason.split('\n')[0]}`)));
  if (argv.includes('--plan')) {
    printPlan(apps);
    return;
  }
  if (argv.includes('--reset') && existsSync(DATA)) {
    const pgDev = existsSync(join(DATA, 'postgres/data/PG_VERSION')) ? new DevPostgres(envPort('DEV_POSTGRES_PORT', 5490)) : undefined;
    if (pgDev?.running()) pgDev.stop();
    say('--reset: wiping .data/');
    rmSync(DATA, { recursive: true, force: true });
  }
  mkdirSync(DATA, { recursive: true });

  // the dev servers the apps need, and every port, first: a clash is reported before anything starts
  const plan: DevServicePlan = planDevServices(apps, { tsxImport: TSX });
  for (const app of apps) devEnvOf(app, plan, { redisUrl: '', databaseUrl: '' }); // template errors now
  for (const s of plan.services.values())
    await requirePort(s.port, `dev service ${s.name} of ${s.owner === 'built-in' ? 'the dev stack' : `apps/${s.owner}`}`, s.overrideEnv);
  const appPorts = new Map<string, number>();
  for (const { app, port, portEnv } of appPortsOf(apps)) {
    await requirePort(port, `${app.name} ${app.kind === 'web' ? 'HTTP' : 'health'} port`, portEnv);
    appPorts.set(app.name, port);
  }

  const redisUrl = process.env.REDIS_URL || `redis://127.0.0.1:${envPort('DEV_REDIS_PORT', 6390)}`;
  if (process.env.REDIS_URL) say(`using REDIS_URL from the environment`);
  else servers.redis = await startRedis(envPort('DEV_REDIS_PORT', 6390));
  if (stopping) return;

  let databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) say('using DATABASE_URL from the environment');
  else {
    servers.postgres = new DevPostgres(envPort('DEV_POSTGRES_PORT', 5490));
    await servers.postgres.start();
    databaseUrl = servers.postgres.url;
  }
  if (stopping) return;
  await ensureDatabase(databaseUrl);
  const { migrate } = await import('../packages/db/src/migrate.js');
  const applied = await migrate(databaseUrl);
  say(applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date');
  const seed = start('seed', process.execPath, ['--import', TSX, 'packages/db/src/cli/seed.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    color: 90,
    oneShot: true,
  });
  await seed.done;
  children.splice(children.indexOf(seed), 1);
  if (seed.proc.exitCode !== 0) throw new DevError('seeding the demo data failed (see above)');
  if (stopping) return;

  const vars = { redisUrl, databaseUrl };
  await startDevServers(plan);
  if (stopping) return;

  const prefix = process.env.BULL_PREFIX || 'bull';
  const secrets = devSecrets();
  // The stack's settings for other terminals (set -a; . .data/dev.env; set +a) and for the CLI,
  // which reads them by itself while COLDCOPY_DEV_PID runs.
  writeFileSync(
    devEnvFile,
    Object.entries({ REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, BULL_PREFIX: prefix, ...secrets, COLDCOPY_DEV_PID: String(process.pid) })
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join('\n') + '\n',
    { mode: 0o600 },
  );
  const started: { app: AppInfo; child: Child; port: number }[] = [];
  apps.forEach((app, i) => {
    const port = appPorts.get(app.name)!;
    // the same environment test/inbound-reply-ai.int.test.ts starts the apps with
    const env = devAppEnv(app, { plan, vars, port, secrets });
    const child = start(app.name, process.execPath, ['--import', TSX, 'src/main.ts'], { cwd: app.dir, env, color: COLORS[i % COLORS.length]! });
    started.push({ app, child, port });
  });
  await Promise.all(
    started.map(({ app, child, port }) =>
      waitFor(
        app.name,
        () => httpOk(`http://127.0.0.1:${port}${app.readyPath}`),
        60_000,
        () => !child.exited,
      ),
    ),
  );
  if (stopping) return;

  let demo = 'no email worker app yet: no demo campaign';
  if (apps.some((a) => a.queue === 'email')) {
    const n = await enqueueDemoCampaigns(redisUrl, databaseUrl, prefix, secrets);
    demo = `${n} demo campaign(s) enqueued (send-bulk-email)`;
  }
  let enrichment = '';
  if (apps.some((a) => a.queue === 'enrichment')) {
    const { enqueueDemoEnrichment } = await import('./demo-enrichment.js');
    const { jobSecurityFromEnv } = await import('../packages/queue-core/src/security/job-security.js');
    const batch = await enqueueDemoEnrichment({ redisUrl, databaseUrl, prefix, security: jobSecurityFromEnv({ ...process.env, ...secrets }) });
    enrichment = batch
      ? `demo enrichment: batch-enrich of ${batch.leads} leads with the Apollo emulator (enrichment_jobs ${batch.enrichmentJobId}, job ${batch.jobId})`
      : 'demo enrichment: no demo workspace with enrichment credits';
    say(enrichment);
  }
  const jobs = jobsCommand();
  const ids = await demoIds(databaseUrl);

  const lines = [
    '',
    bold('ColdCopy is running'),
    ...started
      .filter(({ app }) => app.kind === 'web')
      .map(({ app, port }) => `  ${app.name.padEnd(14)} http://localhost:${port}${app.name === 'dashboard' ? '/admin/queues' : ''}`),
    ...[...plan.services.values()].map((s) =>
      s.name === 'ses'
        ? `  ${'sent mail'.padEnd(14)} http://localhost:${s.port}/`
        : `  ${s.name.padEnd(14)} 127.0.0.1:${s.port} (dev server of apps/${s.owner})`,
    ),
    ...started.filter(({ app }) => app.kind === 'worker').map(({ app, port }) => `  ${app.name.padEnd(14)} http://localhost:${port}/metrics`),
    `  ${'queues'.padEnd(14)} ${jobs} status   (the CLI reads this stack's Redis while it runs: ${devEnvFile})`,
    `  ${'database'.padEnd(14)} ${databaseUrl}`,
    ...(ids
      ? [
          `  ${'demo workspace'.padEnd(14)} ${ids.slug} ${ids.workspaceId}`,
          `  ${'demo campaign'.padEnd(14)} "${ids.campaignName}" ${ids.campaignId}`,
          `  ${'try'.padEnd(14)} ${jobs} enqueue send-email --data '${JSON.stringify({ workspaceId: ids.workspaceId, campaignEmailId: ids.campaignEmailId })}'`,
          `  ${''.padEnd(14)} (a ledger row in state "${ids.campaignEmailStatus}": the worker sends only scheduled rows, never one twice)`,
        ]
      : []),
    `  ${demo}`,
    ...(enrichment ? [`  ${enrichment}`] : []),
    '  Ctrl-C stops everything (data stays in .data/; --reset wipes it)',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  // stay up until a signal; onSignal exits
  await new Promise(() => {});
}

main(process.argv.slice(2)).catch(async (err: Error) => {
  // interrupted during startup: the signal handler's shutdown is under way and exits when done
  if (stopping) return;
  process.stdout.write(`\n${paint(31, 'error:')} ${err instanceof DevError || err instanceof DevServiceError ? err.message : (err.stack ?? err.message)}\n`);
  if (!stopping) {
    stopping = true;
    await shutdown().catch(() => {});
  }
  process.exit(1);
});
