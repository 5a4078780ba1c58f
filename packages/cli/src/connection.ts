/**
 * Which Redis the CLI reads, and where that setting came from.
 *
 * `npm run dev` writes its settings to `.data/dev.env` (REDIS_URL, BULL_PREFIX, the local signing
 * keys, and COLDCOPY_DEV_PID, the stack's process). While that process runs, the CLI fills every
 * variable the environment does not set from the file, so `pnpm jobs status` in another terminal
 * reads the dev stack's Redis instead of the default 127.0.0.1:6379. Each command says which Redis
 * it reads (host, port, prefix: never the user name or password) on stderr.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEV_ENV_FILE = 'dev.env';
/** the repository's ignored data folder, where `npm run dev` keeps its data (DEV_DATA_DIR moves it) */
const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../../.data', import.meta.url));

export interface Settings {
  /** the environment the commands read: the process's, completed from the dev stack's file */
  readonly env: Record<string, string | undefined>;
  /** one line for stderr: which Redis, and why */
  readonly notice: string;
}

/** `KEY='value'` lines as dev.ts writes them (single quotes, `'\''` for a quote inside). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2 ? raw.slice(1, -1).replace(/'\\''/g, "'") : raw;
  }
  return out;
}

/** The value of `KEY='…'` for a shell-sourceable env file. */
export const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** The dev stack's process still runs (and, where /proc tells, is still scripts/dev.ts, not a reused pid). */
function devStackRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it runs, under another user (e.g. the stack was started as root)
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dev.ts');
  } catch {
    return true; // no /proc here: the pid is all we know
  }
}

/** `127.0.0.1:6390`, `cluster 10.0.0.1:7000,10.0.0.2:7000`, `tls redis.example.com:25061`: no credentials. */
export function describeRedisUrl(url: string): string {
  const m = /^(rediss?)(\+cluster)?:\/\/(?:[^@/]*@)?([^/?#]*)(?:\/(\d+))?/.exec(url);
  if (!m) return 'an unparsable REDIS_URL';
  const [, scheme, cluster, hosts, db] = m;
  const withPorts = hosts!
    .split(',')
    .map((h) => (/:\d+$/.test(h) ? h : `${h}:6379`))
    .join(',');
  return `${scheme === 'rediss' ? 'tls ' : ''}${cluster ? 'cluster ' : ''}${withPorts}${db && db !== '0' ? ` db ${db}` : ''}`;
}

export function resolveSettings(env: Record<string, string | undefined>, cwd: string): Settings {
  const dataDir = env.DEV_DATA_DIR ? resolve(env.DEV_DATA_DIR) : DEFAULT_DATA_DIR;
  const file = join(dataDir, DEV_ENV_FILE);
  const shown = relative(cwd, file).startsWith('..') ? file : relative(cwd, file);
  let merged = env;
  let source = env.REDIS_URL ? 'from REDIS_URL' : 'the default: REDIS_URL is not set';
  let text: string | undefined;
  let unreadable: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') unreadable = code ?? (err as Error).message;
  }
  if (text !== undefined) {
    const dev = parseEnvFile(text);
    const pid = Number(dev.COLDCOPY_DEV_PID);
    if (Number.isInteger(pid) && pid > 0 && devStackRuns(pid)) {
      if (env.REDIS_URL) source = `from REDIS_URL (the dev stack's ${shown} is ignored for the variables you set)`;
      else source = `from ${shown}: npm run dev is running (pid ${pid})`;
      merged = { ...env };
      for (const [k, v] of Object.entries(dev)) if (k !== 'COLDCOPY_DEV_PID' && !env[k]) merged[k] = v;
    }
  } else if (unreadable && !env.REDIS_URL) {
    source += ` (${shown} exists but cannot be read: ${unreadable})`;
  }
  const redisUrl = merged.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = merged.BULL_PREFIX || 'bull';
  return { env: merged, notice: `jobs: Redis ${describeRedisUrl(redisUrl)}, prefix ${prefix} (${source})\n` };
}
