/**
 * The dev-service registry (scripts/dev-services.ts) on made-up apps in a temporary folder: no dev
 * stack, no servers. Plus the real apps' manifests resolve (every name known, every template filled).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppInfo, discoverApps, ROOT } from './deploy/apps.js';
import { devEnvOf, DevServiceError, planDevServices } from './dev-services.js';

const dir = mkdtempSync(join(tmpdir(), 'coldcopy-dev-services-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type App = Pick<AppInfo, 'name' | 'dir' | 'devServices' | 'devEnv' | 'devServers'>;

function app(name: string, over: Partial<App> = {}): App {
  const appDir = join(dir, name);
  mkdirSync(join(appDir, 'emu'), { recursive: true });
  writeFileSync(join(appDir, 'emu/main.ts'), '');
  return { name, dir: appDir, devServices: [], devEnv: {}, devServers: {}, ...over };
}

const vars = { redisUrl: 'redis://127.0.0.1:1', databaseUrl: 'postgres://db' };
const tsxImport = 'file:///tsx/index.js';

describe('dev-service registry', () => {
  const emulator = app('fancy-worker', {
    devServers: {
      alpha: { entry: 'emu/main.ts', portEnv: 'ALPHA_PORT', port: 7001, ready: '/up' },
      beta: { entry: 'emu/main.ts', portEnv: 'BETA_PORT', port: 7002 },
    },
    devServices: ['alpha', 'beta'],
    devEnv: {
      ALPHA_URL: '{{url:alpha}}/v1',
      BETA_HOST: '{{host:beta}}',
      BETA_PORT_NUMBER: '{{port:beta}}',
      REDIS: '{{redisUrl}}',
      DB: '{{ databaseUrl }}',
      PLAIN: 'x',
    },
  });

  it('an unknown devServices name is an error naming the app and the name', () => {
    const bad = app('broken-worker', { devServices: ['nope'] });
    expect(() => planDevServices([emulator, bad], { tsxImport })).toThrow(DevServiceError);
    expect(() => planDevServices([emulator, bad], { tsxImport })).toThrow(/apps\/broken-worker: devServices names "nope".*known: alpha, beta, ses/);
  });

  it('fills {{url:}}, {{host:}}, {{port:}} and the stack variables', () => {
    const plan = planDevServices([emulator], { tsxImport, env: {} });
    expect(devEnvOf(emulator, plan, vars, {})).toEqual({
      ALPHA_URL: 'http://127.0.0.1:7001/v1',
      BETA_HOST: '127.0.0.1:7002',
      BETA_PORT_NUMBER: '7002',
      REDIS: 'redis://127.0.0.1:1',
      DB: 'postgres://db',
      PLAIN: 'x',
    });
    // a variable set in the environment wins
    expect(devEnvOf(emulator, plan, vars, { PLAIN: 'mine' })).not.toHaveProperty('PLAIN');
  });

  it('servers of one entry are one process that gets every port in its portEnv; DEV_<NAME>_PORT moves a server', () => {
    const plan = planDevServices([emulator], { tsxImport, env: { DEV_BETA_PORT: '7100' }, nodePath: '/bin/node' });
    expect(plan.processes).toHaveLength(1);
    const [proc] = plan.processes;
    expect(proc).toMatchObject({
      command: '/bin/node',
      args: ['--import', tsxImport, 'emu/main.ts'],
      cwd: emulator.dir,
      env: { ALPHA_PORT: '7001', BETA_PORT: '7100' },
    });
    expect(plan.services.get('alpha')).toMatchObject({ owner: 'fancy-worker', readyUrl: 'http://127.0.0.1:7001/up', overrideEnv: 'DEV_ALPHA_PORT' });
    expect(plan.services.get('beta')).not.toHaveProperty('readyUrl'); // no ready path: not waited for
    expect(devEnvOf(emulator, plan, vars, {}).BETA_HOST).toBe('127.0.0.1:7100');
    expect(() => planDevServices([emulator], { tsxImport, env: { DEV_BETA_PORT: 'x' } })).toThrow(/DEV_BETA_PORT=x is not a port number/);
  });

  it('starts only what some app needs, and another app may use a server it does not own', () => {
    const owner = app('owner-worker', { devServers: { gamma: { entry: 'emu/main.ts', portEnv: 'GAMMA_PORT', port: 7003, ready: '/' } } });
    expect(planDevServices([owner], { tsxImport }).processes).toEqual([]);
    const user = app('user-worker', { devServices: ['gamma'], devEnv: { G: '{{url:gamma}}' } });
    const plan = planDevServices([owner, user], { tsxImport });
    expect(plan.processes.map((p) => p.label)).toEqual(['gamma']);
    expect(devEnvOf(user, plan, vars, {})).toEqual({ G: 'http://127.0.0.1:7003' });
  });

  it('rejects a template naming a server the app does not list, an unknown variable, duplicates, a missing entry and a port clash', () => {
    const plan = planDevServices([emulator], { tsxImport });
    const sneaky = app('sneaky-worker', { devEnv: { A: '{{url:alpha}}' } });
    expect(() => devEnvOf(sneaky, plan, vars, {})).toThrow(
      /apps\/sneaky-worker: devEnv A refers to the dev service "alpha", which is not in its "coldcopy.devServices"/,
    );
    const typo = app('typo-worker', { devEnv: { A: '{{redisURL}}' } });
    expect(() => devEnvOf(typo, plan, vars, {})).toThrow(/apps\/typo-worker: devEnv A refers to \{\{redisURL\}\}/);
    const twin = app('twin-worker', { devServers: { alpha: { entry: 'emu/main.ts', portEnv: 'A', port: 1 } } });
    expect(() => planDevServices([emulator, twin], { tsxImport })).toThrow(/apps\/twin-worker: devServers "alpha" is already declared by apps\/fancy-worker/);
    const builtIn = app('ses-worker', { devServers: { ses: { entry: 'emu/main.ts', portEnv: 'A', port: 1 } } });
    expect(() => planDevServices([builtIn], { tsxImport })).toThrow(/built-in/);
    const missing = app('missing-worker', { devServices: ['delta'], devServers: { delta: { entry: 'emu/nope.ts', portEnv: 'A', port: 7004 } } });
    expect(() => planDevServices([missing], { tsxImport })).toThrow(/apps\/missing-worker: devServers "delta" entry emu\/nope.ts does not exist/);
    const clash = app('clash-worker', { devServices: ['eps'], devServers: { eps: { entry: 'emu/main.ts', portEnv: 'E', port: 7001 } } });
    expect(() => planDevServices([emulator, clash], { tsxImport })).toThrow(/"alpha" and "eps" both want port 7001: set DEV_EPS_PORT/);
  });

  it("the repository's apps resolve: every devServices name is known and every devEnv template fills", async () => {
    const apps = await discoverApps(ROOT);
    const plan = planDevServices(apps, { tsxImport, env: {} });
    for (const a of apps) {
      const env = devEnvOf(a, plan, vars, {});
      for (const v of Object.values(env)) expect(v).not.toMatch(/\{\{/);
      for (const name of a.devServices) expect(plan.services.has(name), `${a.name}: ${name}`).toBe(true);
    }
  });
});
