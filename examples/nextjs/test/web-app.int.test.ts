/**
 * The packages a web app consumes (@coldcopy/queue-core, @coldcopy/web) as it gets them: built to
 * ESM with declarations (tsup), exports pointing at dist/, and packed tarballs that carry dist/
 * and package.json only; then the example Next.js app (examples/nextjs) built with Next's default
 * `next build` (Turbopack) against those builds and started with `next start`, answering real
 * requests against a private Redis, with the email worker processing what it enqueued.
 * Builds once for the file (the DTS step and `next build` are slow on a shared machine).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, RedisServer, spawnWorkerApp, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCampaign } from '../../../apps/email-worker/test/fixtures/seed.js';
import { TEST_SIGNING_KEYS, useEmailHarness } from '../../../apps/email-worker/test/harness.js';
import { EMAIL_WORKER_TEST_ENV } from '../../../apps/email-worker/test/harness-keys.js';
import { ROOT } from '../../../scripts/deploy/apps.js';

// in build order: web imports the other two
const PACKAGES = ['queue-core', 'sns', 'web'] as const;
const BUILD_MS = 600_000;

type Exports = Record<string, string | Record<string, string>>;
const manifest = (pkg: string) =>
  JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as {
    name: string;
    exports: Exports;
    files: string[];
    publishConfig: { exports: Exports };
  };

/** pnpm at the pinned version: the global one, or through npx as scripts/lib.sh does without it. */
function pnpm(): [string, string[]] {
  const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager.split('@')[1]!;
  const global = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  return global.status === 0 && global.stdout.trim() === pinned ? ['pnpm', []] : ['npx', ['--yes', `pnpm@${pinned}`]];
}

/** Builds queue-core, sns, then web (tsup from each package's own devDependencies: no pnpm needed). */
function buildWebPackages(): void {
  for (const pkg of PACKAGES) {
    const dir = join(ROOT, 'packages', pkg);
    const r = spawnSync(join(dir, 'node_modules/.bin/tsup'), [], { cwd: dir, encoding: 'utf8', timeout: BUILD_MS });
    if (r.status !== 0) throw new Error(`tsup in packages/${pkg} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

beforeAll(buildWebPackages, BUILD_MS);

describe('web-facing packages: build and pack', () => {
  let packDir: string;
  const tarballs = new Map<string, { files: string[]; manifest: Record<string, unknown> }>();

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'coldcopy-pack-'));
    const [cmd, pre] = pnpm();
    for (const pkg of PACKAGES) {
      const r = spawnSync(cmd, [...pre, 'pack', '--pack-destination', packDir], { cwd: join(ROOT, 'packages', pkg), encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`pnpm pack in packages/${pkg} failed:\n${r.stdout}\n${r.stderr}`);
      const tgz = join(packDir, `coldcopy-${pkg}-0.1.0.tgz`);
      const files = spawnSync('tar', ['tzf', tgz], { encoding: 'utf8' }).stdout.trim().split('\n');
      const packed = JSON.parse(spawnSync('tar', ['xzf', tgz, '-O', 'package/package.json'], { encoding: 'utf8' }).stdout) as Record<string, unknown>;
      tarballs.set(pkg, { files, manifest: packed });
    }
  }, 240_000);

  afterAll(() => {
    if (packDir) rmSync(packDir, { recursive: true, force: true });
  });

  it('every export has ESM JavaScript and declarations in dist/, and its sources under the "@coldcopy/source" condition', () => {
    for (const pkg of PACKAGES) {
      const { exports, publishConfig } = manifest(pkg);
      for (const [subpath, target] of Object.entries(exports)) {
        if (typeof target === 'string') continue; // ./package.json
        if (!('default' in target)) {
          // a workspace-only entry (test helpers): sources only, and not in the tarball's exports
          expect(Object.keys(target), `${pkg} ${subpath}`).toEqual(['@coldcopy/source']);
          expect(publishConfig.exports, `${pkg} ${subpath}`).not.toHaveProperty(subpath);
          continue;
        }
        expect(Object.keys(target), `${pkg} ${subpath}`).toEqual(['@coldcopy/source', 'types', 'default']);
        for (const file of Object.values(target)) expect(existsSync(join(ROOT, 'packages', pkg, file)), `${pkg} ${subpath} → ${file}`).toBe(true);
        expect(target.default).toMatch(/^\.\/dist\/.*\.js$/);
        expect(target.types).toMatch(/^\.\/dist\/.*\.d\.ts$/);
        expect(readFileSync(join(ROOT, 'packages', pkg, target.default), 'utf8')).toMatch(/^(import|export) /m);
      }
    }
  });

  it('the tarballs carry dist/ and package.json only; their exports name dist files that are inside, without the source condition or workspace specifiers', () => {
    for (const pkg of PACKAGES) {
      const { files, manifest: packed } = tarballs.get(pkg)!;
      expect(
        files.filter((f) => !/^package\/(dist\/[^/]+\.(js|js\.map|d\.ts)|package\.json)$/.test(f)),
        pkg,
      ).toEqual([]);
      expect(
        files.some((f) => /test|bench|tsconfig|\/src\//.test(f)),
        pkg,
      ).toBe(false);
      const text = JSON.stringify(packed);
      expect(text).not.toContain('@coldcopy/source');
      expect(text).not.toMatch(/"(workspace|catalog):/);
      for (const target of Object.values(packed.exports as Exports)) {
        for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
          expect(files, `${pkg}: ${file}`).toContain(`package/${file.replace(/^\.\//, '')}`);
        }
      }
    }
    const web = tarballs.get('web')!.manifest as { dependencies: Record<string, string> };
    expect(Object.keys(web.dependencies).sort()).toEqual(['@coldcopy/queue-core', '@coldcopy/sns', 'zod']);
  });

  it('without the source condition, Node loads the built files (what a web app outside this workspace runs)', () => {
    const script = `
      const web = await import('@coldcopy/web');
      const urls = ['@coldcopy/web', '@coldcopy/queue-core', '@coldcopy/queue-core/producer'].map((s) => import.meta.resolve(s));
      console.log(JSON.stringify({ urls, helpers: [typeof web.jobErrorResponse, typeof web.producerFromEnv, typeof web.createSesWebhookHandler, web.sendEmail.name] }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(ROOT, 'packages/web'),
      env: { ...process.env, NODE_OPTIONS: '' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { urls: string[]; helpers: string[] };
    for (const url of out.urls) expect(url).toMatch(/\/packages\/(web|queue-core)\/dist\/[a-z]+\.js$/);
    expect(out.helpers).toEqual(['function', 'function', 'function', 'send-email']);
  });
});

/** `next build` / `next start` as a user runs them: no source condition (the app consumes dist/), no telemetry. */
function nextEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NODE_OPTIONS: '', NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', ...extra };
}

const APP = join(ROOT, 'examples/nextjs');
const SNS_TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const NEXT = join(APP, 'node_modules/.bin/next');

describe('examples/nextjs: next build (Turbopack), next start, POSTs, the email worker', () => {
  const h = useEmailHarness();
  let build = '';

  beforeAll(() => {
    const r = spawnSync(NEXT, ['build'], { cwd: APP, env: nextEnv(), encoding: 'utf8', timeout: BUILD_MS });
    build = r.stdout + r.stderr;
    if (r.status !== 0) throw new Error(`next build failed (${r.status ?? r.signal}):\n${build}`);
  }, BUILD_MS);

  it('built with the default bundler; the routes are dynamic', () => {
    expect(build).toMatch(/Next\.js 16\.\d+\.\d+ \(Turbopack\)/);
    expect(build).toMatch(/ƒ \/api\/emails/);
    expect(build).toMatch(/ƒ \/api\/webhooks\/ses/);
  });

  it('answers 400 (non-JSON, invalid data with its issues), 202 with a signed job the email worker sends, 403 from the SES route for a forged notification, then 503 once Redis is unreachable', async () => {
    const redisServer = await RedisServer.start();
    const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    const port = await freePort();
    let next: ChildProcess | undefined;
    let worker: WorkerAppProcess | undefined;
    let log = '';
    try {
      const seed = await seedCampaign(h.pool, { leads: 1, scheduleStep1: true });
      const campaignEmailId = seed.sendIds[0]!;
      next = spawn(NEXT, ['start', '--port', String(port), '--hostname', '127.0.0.1'], {
        cwd: APP,
        env: nextEnv({ REDIS_URL: redisServer.url, BULL_PREFIX: h.prefix, JOB_SIGNING_KEYS: TEST_SIGNING_KEYS, SNS_TOPIC_ARNS: SNS_TOPIC }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      next.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      next.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(base).catch(() => undefined))?.status === 200, {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: `next start on ${port}`,
      });
      const post = (path: string, body: string, type = 'application/json') =>
        fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': type } });

      const notJson = await post('/api/emails', 'workspaceId=1&campaignEmailId=2', 'application/x-www-form-urlencoded');
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({ error: 'invalid_body', message: expect.stringMatching(/not valid JSON/) });

      const invalid = await post('/api/emails', JSON.stringify({ workspaceId: 'not-a-uuid', trackOpens: 'yes' }));
      expect(invalid.status).toBe(400);
      const issues = (await invalid.json()) as { error: string; job: string; issues: Array<{ path: string; message: string }> };
      expect(issues).toMatchObject({ error: 'invalid_job_data', job: 'send-email' });
      expect(issues.issues.map((i) => i.path).sort()).toEqual(['campaignEmailId', 'trackOpens', 'workspaceId']);
      expect(await redis.keys(`${h.prefix}:*`)).toEqual([]); // nothing written

      const accepted = await post('/api/emails', JSON.stringify({ workspaceId: seed.workspaceId, campaignEmailId }));
      expect(accepted.status, log).toBe(202);
      const { jobId } = (await accepted.json()) as { jobId: string };
      expect(jobId).toBe(`send-email.${campaignEmailId}`);
      const stored = await redis.hgetall(`${h.prefix}:email:${jobId}`);
      expect(stored.name).toBe('send-email');
      expect(JSON.parse(stored.data!)).toMatchObject({ workspaceId: seed.workspaceId, campaignEmailId });
      expect((JSON.parse(stored.opts!) as { signature?: string }).signature).toMatch(/^v2\.t1\.\d+\.[A-Za-z0-9_-]+$/);

      // the email worker (its own process, as deployed) verifies the signature and sends it
      worker = await spawnWorkerApp(new URL('../../../apps/email-worker/', import.meta.url), {
        ...EMAIL_WORKER_TEST_ENV,
        REDIS_URL: redisServer.url,
        BULL_PREFIX: h.prefix,
        DATABASE_URL: h.db.url,
        SES_ENDPOINT: h.ses.endpoint,
      });
      const finished = await waitFor(
        async () => {
          const job = await redis.hgetall(`${h.prefix}:email:${jobId}`);
          return job.finishedOn ? job : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'the send-email job to finish' },
      );
      expect(finished.failedReason ?? '', worker.output()).toBe('');
      expect(JSON.parse(finished.returnvalue!)).toMatchObject({ status: 'sent' });
      const row = await h.pool.query('SELECT status FROM campaign_emails WHERE id = $1', [campaignEmailId]);
      expect(row.rows[0]).toEqual({ status: 'sent' });
      expect(await h.ses.emails()).toHaveLength(1);

      // the worker stops
      worker.child.kill('SIGTERM');
      await worker.exited;
      worker = undefined;
      // the SNS route verifies before it enqueues: a forged notification gets 403 and leaves nothing
      const forged = await post(
        '/api/webhooks/ses',
        JSON.stringify({
          Type: 'Notification',
          MessageId: 'm-1',
          TopicArn: SNS_TOPIC,
          Message: '{}',
          SignatureVersion: '2',
          Signature: 'AAAA',
          SigningCertURL: 'https://sns.us-east-1.amazonaws.com/x.pem',
        }),
        'text/plain; charset=UTF-8',
      );
      expect(forged.status, log).toBe(403);
      const names: string[] = [];
      for (const key of await redis.keys(`${h.prefix}:email:*`)) {
        if ((await redis.type(key)) === 'hash') names.push((await redis.hget(key, 'name')) ?? '');
      }
      expect(names).toContain('send-email');
      expect(names).not.toContain('process-webhook'); // (the worker's schedules are there too)

      // Redis goes away: the producer fails fast and the route answers 503
      redis.disconnect();
      await redisServer.stopProcess();
      const down = await post('/api/emails', JSON.stringify({ workspaceId: seed.workspaceId, campaignEmailId }));
      expect(down.status, log).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toMatchObject({ error: 'queue_unavailable' });
      expect(log).not.toContain(TEST_SIGNING_KEYS);
    } finally {
      redis.disconnect();
      if (worker) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
      if (next && next.exitCode === null) {
        const exited = new Promise((r) => next!.once('exit', r));
        next.kill('SIGTERM');
        await exited;
      }
      await redisServer.stop();
    }
  }, 240_000);
});
