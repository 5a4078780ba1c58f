/**
 * The dev-service registry of `npm run dev` (scripts/dev.ts): the local servers the apps need in
 * development (provider emulators, fake APIs), started before the apps and stopped after them.
 *
 * An app declares the servers it owns in its package.json manifest,
 *
 *   "coldcopy": {
 *     "devServers": { "fake-llm": { "entry": "fake-llm/main.ts", "portEnv": "FAKE_LLM_PORT", "port": 4010, "ready": "/__fake/requests" } },
 *     "devServices": ["fake-llm"],
 *     "devEnv": { "OPENAI_BASE_URL": "{{url:fake-llm}}/v1" }
 *   }
 *
 * `entry` is a .ts file of the app, run with tsx from the app's folder; it listens on the port in
 * `portEnv` (default `port`, overridden with DEV_<NAME>_PORT, e.g. DEV_FAKE_LLM_PORT); `ready` is an
 * HTTP path that answers 200 once it is up (a server without `ready`, e.g. a UDP one, is not waited
 * for). Servers of one app with the same entry are one process that gets all their ports.
 * `devServices` lists what the app needs (its own servers, another app's, or a built-in: `ses`, the
 * SES emulator of the aws-ses-v2-local package); only servers some app needs are started. `devEnv`
 * values refer to them as {{url:<name>}} (http://127.0.0.1:<port>), {{host:<name>}}
 * (127.0.0.1:<port>) and {{port:<name>}}, and to the stack as {{redisUrl}}, {{databaseUrl}},
 * {{sesUrl}}, {{sesPort}}. An unknown name, a server the app does not list in devServices, or an
 * unknown variable is an error naming the app.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import type { AppInfo, DevServerDecl } from './deploy/apps.js';

export class DevServiceError extends Error {
  override name = 'DevServiceError';
}

/** A server of the plan: where it listens and how to tell it is up. */
export interface DevService {
  readonly name: string;
  /** the app that declares it, or `built-in` */
  readonly owner: string;
  readonly port: number;
  /** DEV_<NAME>_PORT, the variable that moves it */
  readonly overrideEnv: string;
  /** absent: not waited for */
  readonly readyUrl?: string;
}

/** A process that runs one or more services. */
export interface DevProcess {
  /** log prefix */
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** set on top of the stack's environment */
  readonly env: Readonly<Record<string, string>>;
  readonly services: readonly DevService[];
}

export interface DevServicePlan {
  /** every service some app needs, by name */
  readonly services: ReadonlyMap<string, DevService>;
  readonly processes: readonly DevProcess[];
}

type AppView = Pick<AppInfo, 'name' | 'dir' | 'devServices' | 'devEnv' | 'devServers'>;

/** The built-in services (not part of any app): name → how to run it once its port is known. */
const BUILT_IN = {
  ses: { port: 8005, ready: '/health-check', describe: 'the SES emulator (aws-ses-v2-local)' },
} as const;

export const BUILT_IN_SERVICES: readonly string[] = Object.keys(BUILT_IN);

/** DEV_FAKE_LLM_PORT for `fake-llm`. */
export function overrideEnvOf(name: string): string {
  return `DEV_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PORT`;
}

function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new DevServiceError(`${name}=${raw} is not a port number`);
  return n;
}

/** The aws-ses-v2-local binary, from the first app needing `ses` that has it installed. */
function sesEmulatorBin(apps: readonly AppView[]): string | undefined {
  for (const app of apps.filter((a) => a.devServices.includes('ses'))) {
    try {
      const pkgJson = createRequire(join(app.dir, 'package.json')).resolve('aws-ses-v2-local/package.json');
      const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin: string | Record<string, string> };
      const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin['aws-ses-v2-local'];
      if (bin) return join(dirname(pkgJson), bin);
    } catch {
      // not installed for this app
    }
  }
  return undefined;
}

/**
 * What the dev stack starts for the apps' devServices. `tsxImport` is the tsx loader to run entries
 * with (`node --import <tsx> <entry>`). Throws DevServiceError on an unknown or duplicate name, a
 * missing entry file or two services on one port.
 */
export function planDevServices(
  apps: readonly AppView[],
  opts: {
    env?: NodeJS.ProcessEnv;
    tsxImport: string;
    nodePath?: string;
    /** the apps whose devServers declarations count (default `apps`): a stack of some apps that uses another's server */
    declaredBy?: readonly AppView[];
  },
): DevServicePlan {
  const env = opts.env ?? process.env;
  const node = opts.nodePath ?? process.execPath;
  const declared = new Map<string, { app: AppView; decl: DevServerDecl }>();
  for (const app of opts.declaredBy ?? apps) {
    for (const [name, decl] of Object.entries(app.devServers)) {
      if (name in BUILT_IN) throw new DevServiceError(`apps/${app.name}: devServers "${name}" is the name of a built-in dev service; choose another name`);
      const other = declared.get(name);
      if (other) throw new DevServiceError(`apps/${app.name}: devServers "${name}" is already declared by apps/${other.app.name}; choose another name`);
      declared.set(name, { app, decl });
    }
  }
  const needed = new Set<string>();
  for (const app of apps) {
    for (const name of app.devServices) {
      if (!declared.has(name) && !(name in BUILT_IN)) {
        const known = [...BUILT_IN_SERVICES, ...declared.keys()].sort().join(', ');
        throw new DevServiceError(
          `apps/${app.name}: devServices names "${name}", which no app declares in "coldcopy.devServers" and is not a built-in service (known: ${known})`,
        );
      }
      needed.add(name);
    }
  }

  const services = new Map<string, DevService>();
  const processes: DevProcess[] = [];
  const service = (name: string, owner: string, port: number, ready: DevServerDecl['ready']): DevService => {
    const s: DevService = { name, owner, port, overrideEnv: overrideEnvOf(name), ...(ready ? { readyUrl: `http://127.0.0.1:${port}${ready}` } : {}) };
    services.set(name, s);
    return s;
  };

  if (needed.has('ses')) {
    const port = portFromEnv(env, overrideEnvOf('ses'), BUILT_IN.ses.port);
    const bin = sesEmulatorBin(apps);
    if (!bin) {
      const who = apps
        .filter((a) => a.devServices.includes('ses'))
        .map((a) => `apps/${a.name}`)
        .join(', ');
      throw new DevServiceError(
        `${who} need${who.includes(',') ? '' : 's'} the dev service "ses", ${BUILT_IN.ses.describe}, which is installed for none of them: add aws-ses-v2-local to its devDependencies and run pnpm install`,
      );
    }
    const cwd = apps.find((a) => a.devServices.includes('ses'))!.dir;
    processes.push({
      label: 'ses',
      command: node,
      args: [bin, '--host', '127.0.0.1', '--port', String(port)],
      cwd,
      env: {},
      services: [service('ses', 'built-in', port, BUILT_IN.ses.ready)],
    });
  }

  // servers of one app sharing an entry are one process
  const byProcess = new Map<string, { app: AppView; entry: string; names: string[] }>();
  for (const [name, { app, decl }] of declared) {
    const key = `${app.name}\0${decl.entry}`;
    const group = byProcess.get(key) ?? { app, entry: decl.entry, names: [] };
    group.names.push(name);
    byProcess.set(key, group);
  }
  for (const { app, entry, names } of byProcess.values()) {
    if (!names.some((n) => needed.has(n))) continue;
    const file = join(app.dir, entry);
    if (!existsSync(file))
      throw new DevServiceError(`apps/${app.name}: devServers "${names[0]}" entry ${entry} does not exist (${relative(process.cwd(), file)})`);
    const procEnv: Record<string, string> = {};
    const list: DevService[] = [];
    for (const name of names) {
      const { decl } = declared.get(name)!;
      const port = portFromEnv(env, overrideEnvOf(name), decl.port);
      procEnv[decl.portEnv] = String(port);
      list.push(service(name, app.name, port, decl.ready));
    }
    processes.push({ label: names.join('+'), command: node, args: ['--import', opts.tsxImport, entry], cwd: app.dir, env: procEnv, services: list });
  }

  const byPort = new Map<number, string>();
  for (const s of services.values()) {
    const other = byPort.get(s.port);
    if (other) throw new DevServiceError(`dev services "${other}" and "${s.name}" both want port ${s.port}: set ${s.overrideEnv} to another port`);
    byPort.set(s.port, s.name);
  }
  return { services, processes };
}

/** Plain template variables: the stack's own, and the old names of the SES emulator's. */
export interface StackVars {
  readonly redisUrl: string;
  readonly databaseUrl: string;
}

const ALIASES: Record<string, string> = { sesUrl: 'url:ses', sesPort: 'port:ses' };

/**
 * One devEnv value with its {{...}} filled: {{redisUrl}}, {{databaseUrl}}, {{url:<name>}},
 * {{host:<name>}}, {{port:<name>}} (the service must be in the app's devServices).
 */
export function fillDevTemplate(app: Pick<AppView, 'name' | 'devServices'>, key: string, template: string, plan: DevServicePlan, vars: StackVars): string {
  return template.replace(/\{\{([^{}]*)\}\}/g, (_m, raw: string) => {
    const ref = ALIASES[raw.trim()] ?? raw.trim();
    if (ref === 'redisUrl') return vars.redisUrl;
    if (ref === 'databaseUrl') return vars.databaseUrl;
    const m = /^(url|host|port):(.+)$/.exec(ref);
    if (!m) {
      throw new DevServiceError(
        `apps/${app.name}: devEnv ${key} refers to {{${raw}}}, which is not a dev stack variable (redisUrl, databaseUrl, sesUrl, sesPort, url:<service>, host:<service>, port:<service>)`,
      );
    }
    const [, kind, name] = m as unknown as [string, 'url' | 'host' | 'port', string];
    if (!app.devServices.includes(name)) {
      throw new DevServiceError(
        `apps/${app.name}: devEnv ${key} refers to the dev service "${name}", which is not in its "coldcopy.devServices"; add it there`,
      );
    }
    const s = plan.services.get(name);
    if (!s) throw new DevServiceError(`apps/${app.name}: devEnv ${key} refers to the unknown dev service "${name}"`);
    return kind === 'url' ? `http://127.0.0.1:${s.port}` : kind === 'host' ? `127.0.0.1:${s.port}` : String(s.port);
  });
}

/** The app's devEnv, filled (variables already set in `env` win, as before). */
export function devEnvOf(
  app: Pick<AppView, 'name' | 'devServices' | 'devEnv'>,
  plan: DevServicePlan,
  vars: StackVars,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(app.devEnv)) {
    const filled = fillDevTemplate(app, k, v, plan, vars); // checked even when overridden
    if (env[k] === undefined) out[k] = filled;
  }
  return out;
}

/** What devAppEnv needs of an app (scripts/deploy/apps.ts AppInfo). */
type AppEnvView = Pick<AppInfo, 'name' | 'devServices' | 'devEnv' | 'portVar'> & { readonly env: ReadonlyArray<{ readonly name: string }> };

/**
 * The environment `npm run dev` starts an app with (scripts/dev.ts), so that a test can start an
 * app exactly as the dev stack does: `base` (dev.ts: its own environment), REDIS_URL, the app's
 * port variable, DATABASE_URL and NODE_ENV=development when the app declares them, the stack's
 * job signing and encryption keys it declares, a 10 s shutdown grace unless set, the app's devEnv
 * filled from the plan (variables set in `base` win), and local credentials for the SES emulator.
 */
export function devAppEnv(
  app: AppEnvView,
  options: {
    readonly plan: DevServicePlan;
    readonly vars: StackVars;
    readonly port: number;
    readonly secrets: Readonly<Record<string, string>>;
    readonly base?: NodeJS.ProcessEnv;
  },
): NodeJS.ProcessEnv {
  const base = options.base ?? process.env;
  const declared = new Set(app.env.map((e) => e.name));
  const env: NodeJS.ProcessEnv = { ...base, REDIS_URL: options.vars.redisUrl, [app.portVar]: String(options.port) };
  if (declared.has('DATABASE_URL')) env.DATABASE_URL = options.vars.databaseUrl;
  if (declared.has('NODE_ENV')) env.NODE_ENV = 'development';
  for (const [k, v] of Object.entries(options.secrets)) if (declared.has(k)) env[k] = v;
  // stop quickly in development: in-flight jobs get 10 s (they are re-run after their lock expires)
  if (declared.has('SHUTDOWN_GRACE_SECONDS') && !base.SHUTDOWN_GRACE_SECONDS) env.SHUTDOWN_GRACE_SECONDS = '10';
  Object.assign(env, devEnvOf(app, options.plan, options.vars, base));
  if (app.devServices.includes('ses')) {
    // the AWS SDK wants credentials even for the emulator, which ignores them
    env.AWS_ACCESS_KEY_ID ??= 'local';
    env.AWS_SECRET_ACCESS_KEY ??= 'local';
  }
  return env;
}
