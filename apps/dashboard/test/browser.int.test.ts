import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { defineJob } from '@coldcopy/queue-core';
import { createSilentLogger, startWorker, type Worker } from '@coldcopy/queue-core/runtime';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { chromium, type Browser } from 'playwright-core';
import { z } from 'zod';
import { afterEach, describe, expect, it } from 'vitest';
import { PASSWORD, useDashboard, waitFor } from './helpers.js';
import { requireDebianBinary } from '@coldcopy/testing';

const SCREENSHOT = fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url));
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A job that exists only in this test: its first run fails, every later run succeeds. */
const flakySend = defineJob({
  name: 'test-flaky-send',
  queue: 'email',
  description: 'fails its first run (browser test only)',
  scope: 'global',
  payload: { campaign: z.string(), apiKey: z.string() },
  options: { attempts: 1 },
});

describe('the board in a real browser (Debian chromium)', () => {
  const fx = useDashboard({ ENVIRONMENT_LABEL: 'test' });
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  it('logs in, shows all six queues, retries a failed job and sees it complete', async (ctx) => {
    const browserBinary = requireDebianBinary('chromium', 'chromium');
    if (!browserBinary.path) return ctx.skip(browserBinary.missing);

    let runs = 0;
    // Unsigned jobs (signing disabled on both sides): this test is about the board.
    const security = new JobSecurity({ signing: 'disabled' });
    const worker: Worker = await startWorker({
      queue: 'email',
      redisUrl: fx.redisUrl,
      prefix: fx.prefix,
      definitions: [flakySend],
      handlers: {
        'test-flaky-send': async () => {
          runs += 1;
          if (runs === 1) throw new Error('SES throttled the first attempt');
          return { sent: true };
        },
      } as never,
      deps: {},
      logger: createSilentLogger(),
      concurrency: 1,
      security,
    });
    cleanups.push(() => worker.close(2000));
    const producer = new Producer({ redisUrl: fx.redisUrl, prefix: fx.prefix, security, shards: {} });
    cleanups.push(() => producer.close());

    const { id } = await producer.enqueue(flakySend, { campaign: 'spring', apiKey: 'sk-live-secret' }, { attempts: 1 });
    const email = fx.shard('email').inspect;
    await waitFor(async () => (await email.job(id))?.state === 'failed', { what: 'the first run to fail' });
    // Some backlog elsewhere so the overview shows more than one state.
    for (let n = 0; n < 12; n++) await fx.queues.enqueue('enrichment', { n });
    await fx.queues.enqueue('ai', { n: 1 }, { delay: 3_600_000 });
    await fx.queues.enqueue('analytics', { n: 1 });

    const server: Server = fx.app.listen(0, '127.0.0.1');
    cleanups.push(() => new Promise((r) => server.close(r)));
    await new Promise((r) => server.once('listening', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const browser: Browser = await chromium.launch({ executablePath: browserBinary.path, args: CHROMIUM_FLAGS });
    cleanups.push(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
    // The board's page links Google Fonts; this machine has no internet, so fail those fast.
    await page.route(/fonts\.(googleapis|gstatic)\.com/, (route) => route.abort());

    // Anonymous → login form → board.
    await page.goto(`${base}/admin/queues/`);
    await expect.poll(() => page.url()).toContain('/admin/queues/login');
    await page.fill('input[name=username]', 'ana');
    await page.fill('input[name=password]', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/admin/queues/`), page.click('button[type=submit]')]);

    for (const name of ['email', 'enrichment', 'ai', 'analytics', 'integration', 'maintenance']) {
      await page.locator(`[title="${name}"]`).first().waitFor({ state: 'visible' });
    }

    // Open the failed job from the email queue's failed list.
    await page.locator(`[title="email"]`).first().click();
    await page.waitForURL(/\/admin\/queues\/queue\/email/);
    await page.goto(`${base}/admin/queues/queue/email?status=failed`);
    await page.getByText('SES throttled the first attempt').first().waitFor();
    await page.goto(`${base}/admin/queues/queue/email/${id}`);
    await page.getByText('test-flaky-send').first().waitFor();
    await page.getByRole('tab', { name: 'Data' }).click();
    await page.getByText('[redacted]').first().waitFor();
    expect(await page.content()).not.toContain('sk-live-secret');

    // Retry (the board sends PUT …/retry with the X-XSRF-TOKEN header copied from our cookie).
    const retried = page.waitForResponse((r) => r.url().endsWith(`/api/queues/email/${id}/retry`) && r.request().method() === 'PUT');
    await page.locator('button:has(svg.lucide-refresh-cw)').first().click();
    const confirm = page.getByRole('button', { name: /^(retry|confirm|ok|yes)$/i });
    if (await confirm.isVisible().catch(() => false)) await confirm.click();
    expect((await retried).status()).toBeLessThan(300);

    await waitFor(async () => (await email.job(id))?.state === 'completed', { what: 'the retried job to complete' });
    expect(runs).toBe(2);
    await page.goto(`${base}/admin/queues/queue/email/${id}`);
    await page.locator('[style*="--status-completed"]').first().waitFor();

    await page.goto(`${base}/admin/queues/`);
    await page.locator('[title="maintenance"]').first().waitFor();
    await page.waitForTimeout(500);
    mkdirSync(fileURLToPath(new URL('../../../docs/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    expect(problems).toEqual([]);
  }, 120_000);
});
