import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { findBinary, MissingBinaryError, postgresBinDirs } from './binaries.js';
import { freePort } from './free-port.js';

export interface PostgresServerOptions {
  readonly port?: number;
  /** superuser created by initdb; default `postgres` */
  readonly user?: string;
}

interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/**
 * A private PostgreSQL cluster in a temp dir on a free loopback port, started with initdb/pg_ctl,
 * tuned for tests (fsync, synchronous_commit and full_page_writes off: a crash loses the cluster,
 * which is thrown away anyway). Postgres refuses to run as root, so under root the data dir is
 * owned by the `postgres` system user and the binaries run through `runuser -u postgres --`.
 */
export class PostgresServer {
  private stopped = false;
  private readonly onExit = () => this.stopSync();

  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly user: string,
    private readonly binDir: string,
    private readonly runAs: RunAs | undefined,
  ) {}

  /** Superuser URL of the `postgres` maintenance database. */
  get url(): string {
    return this.urlFor('postgres');
  }

  urlFor(database: string): string {
    return `postgres://${this.user}@127.0.0.1:${this.port}/${database}`;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const initdb = findBinary('initdb', postgresBinDirs());
    if (!initdb) throw new MissingBinaryError('initdb', 'postgresql');
    // pg_ctl and postgres must come from the same installation as initdb
    const binDir = dirname(realBinary(initdb));
    for (const name of ['pg_ctl', 'postgres']) {
      if (!findBinary(name, [binDir])) throw new MissingBinaryError(name, 'postgresql');
    }
    const runAs = process.getuid?.() === 0 ? postgresSystemUser() : undefined;
    if (runAs && !findBinary('runuser')) throw new MissingBinaryError('runuser', 'util-linux');
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'coldcopy-pg-'));
    const server = new PostgresServer(port, dir, options.user ?? 'postgres', binDir, runAs);
    try {
      if (runAs) chownSync(dir, runAs.uid, runAs.gid);
      mkdirSync(join(dir, 'sock'));
      chmodSync(join(dir, 'sock'), 0o700);
      if (runAs) chownSync(join(dir, 'sock'), runAs.uid, runAs.gid);
      await server.run('initdb', ['-D', server.dataDir, '-U', server.user, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
      await server.startProcess();
    } catch (err) {
      server.stopSync();
      throw err;
    }
    return server;
  }

  /** Starts (or restarts) the server on the same port and data dir; waits until it accepts connections. */
  async startProcess(): Promise<void> {
    const opts = [
      '-c listen_addresses=127.0.0.1',
      `-p ${this.port}`,
      `-k ${join(this.dir, 'sock')}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=200',
      '-c shared_buffers=128MB',
      '-c TimeZone=UTC',
    ].join(' ');
    await this.run('pg_ctl', ['start', '-D', this.dataDir, '-w', '-t', '60', '-l', join(this.dir, 'server.log'), '-o', opts]);
    this.stopped = false;
    process.once('exit', this.onExit);
  }

  /** Stops the server (fast shutdown: open sessions are disconnected). */
  async stopProcess(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    if (this.stopped) return;
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
    this.stopped = true;
    process.removeListener('exit', this.onExit);
  }

  async restart(): Promise<void> {
    await this.stopProcess();
    await this.startProcess();
  }

  /** Stops the server and deletes the cluster. */
  async stop(): Promise<void> {
    try {
      await this.stopProcess();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Last lines of the server log, for error messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Last-resort cleanup when the test process exits without teardown. */
  private stopSync(): void {
    if (!this.stopped) {
      const [cmd, args] = this.command('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '10']);
      spawnSync(cmd, args, { stdio: 'ignore' });
      this.stopped = true;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private command(binary: string, args: string[]): [string, string[]] {
    const path = join(this.binDir, binary);
    if (!this.runAs) return [path, args];
    return ['runuser', ['-u', 'postgres', '--', path, ...args]];
  }

  private run(binary: string, args: string[]): Promise<void> {
    const [cmd, cmdArgs] = this.command(binary, args);
    return new Promise((resolve, reject) => {
      // pg_ctl's server inherits the pipes: ignore stdout, read stderr only until pg_ctl exits
      const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'], cwd: this.dir });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${binary} ${args[0] ?? ''} failed (${code ?? signal}): ${stderr.trim()}\n${this.logTail()}`));
      });
    });
  }
}

function realBinary(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** uid/gid of the `postgres` system user (Debian's postgresql packages create it). */
function postgresSystemUser(): RunAs {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) {
    throw new Error(
      'PostgreSQL refuses to run as root and there is no `postgres` system user to run it as. Create it with:\n' +
        '  sudo apt-get install -y postgresql   (creates the user)\n' +
        'or: sudo useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres\n' +
        '(or run the tests as a non-root user, or set TEST_DATABASE_URL to a server you own)',
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
