import { describe, expect, it } from 'vitest';
import { parseScalingConfig } from '../src/config.js';
import { formatDecisions } from '../src/main.js';
import type { TickReport } from '../src/scaler.js';
import { APP_ID, appSpec, countsOf, MINUTE, T0, TOKEN, useHarness } from './harness.js';

/**
 * The backlog curve of the acceptance test, jobs waiting in `email` (two shards) at minute m:
 * 0 until 2, up to 5,000 at 4, 5,000 until 14, down to 50 at 16, 50 until 30.
 */
function curve(m: number): number {
  const points: [number, number][] = [
    [0, 0],
    [2, 0],
    [4, 5000],
    [14, 5000],
    [16, 50],
    [30, 50],
  ];
  for (let i = 1; i < points.length; i++) {
    const [m0, v0] = points[i - 1]!;
    const [m1, v1] = points[i]!;
    if (m <= m1) return Math.round(v0 + ((v1 - v0) * (m - m0)) / (m1 - m0));
  }
  return points.at(-1)![1];
}

/** The spec updates of the run: minute and email-worker's new count. */
const EXPECTED = [
  { minute: 2.5, count: 3 }, // 1,250 > 1,000: first step up
  { minute: 7.5, count: 4 }, // after the 5-minute up cooldown
  { minute: 12.5, count: 5 }, // max
  { minute: 26, count: 4 }, // below 100 since minute 16 for 10 minutes, and 10 minutes after the last change
];

describe('the scaler against the Apps API emulator', () => {
  // deployments take 2 simulated minutes, as a small App Platform rollout does
  const h = useHarness({ emulator: { deploymentMs: 2 * MINUTE }, shards: { email: 2 } });

  async function runCurve(scalers: { scaler: { tick(): Promise<TickReport> } }[]) {
    const reports: { minute: number; reports: TickReport[] }[] = [];
    for (let tick = 0; tick <= 60; tick++) {
      const minute = tick / 2;
      h().clock.t = T0 + minute * MINUTE;
      await h().setBacklog('email', curve(minute), 2);
      reports.push({ minute, reports: await Promise.all(scalers.map((s) => s.scaler.tick())) });
    }
    return reports;
  }

  it('0 → 5,000 → 50 over 30 simulated minutes: steps up to max, holds, steps down once after the hold; never outside [min, max], never flapping', async () => {
    const a = await h().scaler();
    const run = await runCurve([a]);
    const updates = h().emulator.updates(APP_ID);
    expect(updates.map((u) => ({ minute: (u.at - T0) / MINUTE, count: u.counts!['email-worker'] }))).toEqual(EXPECTED);
    // the other components were sent back untouched (enrichment had no backlog and is at its min)
    for (const u of updates) expect(u.counts).toMatchObject({ 'enrichment-worker': 1 });
    expect(countsOf(h().emulator.spec(APP_ID))).toEqual({ 'email-worker': 4, 'enrichment-worker': 1, 'analytics-worker': undefined });
    // the whole spec is what was read, but for the one count (SECRET values stay encrypted, App Platform autoscaling untouched)
    const expected = appSpec();
    expected.workers![0]!.instance_count = 4;
    expect(h().emulator.spec(APP_ID)).toEqual(expected);
    // never during a deployment, never above max or below min
    expect(updates.every((u) => u.duringDeployment === false)).toBe(true);
    const email = run.flatMap((r) => r.reports[0]!.decisions.filter((d) => d.component === 'email-worker'));
    expect(email).toHaveLength(61);
    expect(Math.max(...email.map((d) => d.desired))).toBe(5);
    expect(Math.min(...email.map((d) => d.desired))).toBe(2);
    // no flapping: one run up, then one run down, opposite moves at least the down cooldown apart
    const moves = email.filter((d) => d.action !== 'hold').map((d) => d.action);
    expect(moves).toEqual(['up', 'up', 'up', 'down']);
    // the hold: every tick from minute 16 to 25.5 was below 100 and held
    const holding = run.filter((r) => r.minute >= 16 && r.minute < 26).map((r) => r.reports[0]!.decisions[0]!.reason);
    expect(new Set(holding)).toEqual(new Set(['holding_low']));
    // every decision is logged and counted
    const logged = h().logs.filter((l) => l.includes('"autoscaler decision"'));
    expect(logged).toHaveLength(61 * 2);
    const metrics = await a.metrics.register.metrics();
    expect(metrics).toMatch(/coldcopy_autoscaler_decisions_total\{component="email-worker",action="up",reason="backlog_high",applied="true"\} 3/);
    expect(metrics).toMatch(/coldcopy_autoscaler_decisions_total\{component="email-worker",action="down",reason="backlog_low",applied="true"\} 1/);
    expect(metrics).toMatch(/coldcopy_autoscaler_queue_backlog\{queue="email"\} 50/);
    // the token is in no log line and no metric
    expect(h().logs.join('\n')).not.toContain(TOKEN);
    expect(metrics).not.toContain(TOKEN);
  });

  it('two scaler processes at once: one leads, each decision is applied once', async () => {
    const a = await h().scaler({ owner: 'scaler-a' });
    const b = await h().scaler({ owner: 'scaler-b' });
    const run = await runCurve([a, b]);
    const updates = h().emulator.updates(APP_ID);
    expect(updates.map((u) => ({ minute: (u.at - T0) / MINUTE, count: u.counts!['email-worker'] }))).toEqual(EXPECTED);
    // exactly one of the two led on every tick
    for (const r of run) expect(r.reports.filter((x) => x.leader)).toHaveLength(1);
  });

  it('a deposed leader cannot write or claim: the fencing token', async () => {
    const a = await h().scaler({ owner: 'scaler-a' });
    const b = await h().scaler({ owner: 'scaler-b' });
    const leaseA = await a.lock.acquire();
    expect(leaseA).toBeDefined();
    expect(await b.lock.acquire()).toBeUndefined();
    // A stalls past its lease; B takes over with a newer token
    await h().redis.del(`{${h().prefix}:autoscaler}:lease`);
    const leaseB = await b.lock.acquire();
    expect(leaseB!.token).toBeGreaterThan(leaseA!.token);
    const claim = new Map([['email-worker', { lastChangeAt: 1, lowSince: null }]]);
    expect(await a.lock.write(leaseA!, claim)).toBe(false);
    expect(await b.lock.write(leaseB!, claim)).toBe(true);
    // and A's next pass finds it is not the leader and sends nothing
    await h().setBacklog('email', 5000);
    expect(await a.scaler.tick()).toMatchObject({ leader: false, applied: false });
    expect(h().emulator.requests).toHaveLength(0);
  });

  it('a 5xx on the update leaves the spec unchanged, and the update is retried from a fresh read', async () => {
    const a = await h().scaler({ attempts: 3 });
    await h().setBacklog('email', 5000, 2);
    // every attempt fails: nothing applied, the spec is as it was (one more read confirms it), nothing claimed
    h().emulator.inject({ method: 'PUT', status: 500, count: 3 });
    const failed = await a.scaler.tick();
    expect(failed).toMatchObject({ applied: false, notApplied: 'api_error' });
    expect(h().emulator.spec(APP_ID)).toEqual(appSpec());
    expect(h().emulator.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'GET 200',
      'GET 200',
      'PUT 500',
      'GET 200',
      'PUT 500',
      'GET 200',
      'PUT 500',
      'GET 200',
    ]);
    // one failure then success: applied once, by the retry
    h().clock.t += 30_000;
    h().emulator.inject({ method: 'PUT', status: 503 });
    const ok = await a.scaler.tick();
    expect(ok).toMatchObject({ applied: true });
    expect(h().emulator.updates(APP_ID)).toHaveLength(1);
    expect(countsOf(h().emulator.spec(APP_ID))['email-worker']).toBe(3);
    expect(await a.metrics.register.metrics()).toMatch(/coldcopy_autoscaler_apply_failures_total\{reason="api_error"\} 1/);
  });

  it('an update applied whose answer was lost (502 after applying) is not sent twice', async () => {
    const a = await h().scaler();
    await h().setBacklog('email', 5000);
    h().emulator.inject({ method: 'PUT', status: 502, afterApply: true });
    expect(await a.scaler.tick()).toMatchObject({ applied: true });
    expect(h().emulator.updates(APP_ID)).toHaveLength(1);
    expect(h().emulator.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(countsOf(h().emulator.spec(APP_ID))['email-worker']).toBe(3);
  });

  it('an update applied whose answers all failed is found applied by one more read: the claim stands, no second step within the cooldown', async () => {
    const a = await h().scaler({ attempts: 3 });
    await h().setBacklog('email', 5000);
    // the PUT is applied but answers 502; the two reads of the retries fail; the check after them answers
    h().emulator.inject({ method: 'PUT', status: 502, afterApply: true });
    h().emulator.inject({ method: 'GET', status: 500, count: 2, skip: 2 });
    expect(await a.scaler.tick()).toMatchObject({ applied: true });
    expect(h().emulator.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'GET 200', 'PUT 502', 'GET 500', 'GET 500', 'GET 200']);
    expect(countsOf(h().emulator.spec(APP_ID))['email-worker']).toBe(3);
    // 30 s later the backlog is still high: the cooldown of that change holds
    h().clock.t += 30_000;
    expect((await a.scaler.tick()).decisions[0]).toMatchObject({ action: 'hold', reason: 'cooldown' });
    expect(h().emulator.updates(APP_ID)).toHaveLength(1);
  });

  it('no update while a deployment is in progress; it goes through once the deployment is over', async () => {
    const a = await h().scaler();
    // someone deploys (a push to main)
    const spec = appSpec();
    const res = await fetch(`${h().emulator.url}/v2/apps/${APP_ID}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ spec }),
    });
    expect(res.status).toBe(200);
    await h().setBacklog('email', 5000);
    expect(await a.scaler.tick()).toMatchObject({ applied: false, notApplied: 'deployment_in_progress' });
    expect(h().emulator.updates(APP_ID)).toHaveLength(1);
    h().clock.t += 2 * MINUTE;
    expect(await a.scaler.tick()).toMatchObject({ applied: true });
    expect(
      h()
        .emulator.updates(APP_ID)
        .map((u) => u.counts!['email-worker']),
    ).toEqual([2, 3]);
    expect(
      h()
        .emulator.updates(APP_ID)
        .every((u) => !u.duringDeployment),
    ).toBe(true);
  });

  it('reads the oldest waiting age through the admin view: a small but old backlog scales up when the rule asks for it', async () => {
    const config = parseScalingConfig({ workers: { 'email-worker': { queue: 'email', min: 2, max: 5, scaleUpOldestAgeSeconds: 600 } } });
    const a = await h().scaler({ config });
    // 20 jobs, the next one of shard 1 created 20 minutes ago (the admin view ages jobs on the wall clock)
    await h().setBacklog('email', 20, 2, Date.now() - 20 * MINUTE);
    const report = await a.scaler.tick();
    const email = report.decisions[0]!;
    expect(email).toMatchObject({ backlog: 20, action: 'up', desired: 3, reason: 'oldest_age_high' });
    expect(email.oldestAgeSeconds).toBeGreaterThanOrEqual(20 * 60);
    expect(report.applied).toBe(true);
    expect(await a.metrics.register.metrics()).toMatch(/coldcopy_autoscaler_queue_oldest_waiting_age_seconds\{queue="email"\} 1[2-9]\d\d/);
  });

  it('--dry-run decides and prints, and neither updates the spec nor writes the scaler memory', async () => {
    const a = await h().scaler({ dryRun: true });
    await h().setBacklog('email', 5000, 2);
    const report = await a.scaler.tick();
    expect(report.decisions.find((d) => d.component === 'email-worker')).toMatchObject({ action: 'up', current: 2, desired: 3, backlog: 5000 });
    expect(report).toMatchObject({ applied: false, notApplied: 'dry run' });
    expect(h().emulator.requests.map((r) => r.method)).toEqual(['GET']);
    expect(await a.lock.memory()).toEqual(new Map());
    const table = formatDecisions(report);
    expect(table).toMatch(/^component\s+queue\s+backlog\s+oldest_s\s+current\s+desired\s+action\s+reason$/m);
    expect(table).toMatch(/^email-worker\s+email\s+5000\s+-\s+2\s+3\s+up\s+backlog_high$/m);
    expect(h().logs.some((l) => l.includes('"dryRun":true'))).toBe(true);
  });
});

describe('rate limits', () => {
  const h = useHarness({ emulator: { rateLimit: { limit: 2, windowMs: MINUTE } } });

  it('a 429 waits for the reset the headers give, then the update goes through once', async () => {
    const a = await h().scaler();
    await h().setBacklog('email', 5000);
    const report = await a.scaler.tick();
    expect(report).toMatchObject({ applied: true });
    const statuses = h().emulator.requests.map((r) => `${r.method} ${r.status}`);
    expect(statuses).toEqual(['GET 200', 'GET 200', 'PUT 429', 'GET 200', 'PUT 200']);
    // the retry came after the window's reset, on the injected clock
    const retry = h().emulator.requests[3]!;
    expect(retry.at - T0).toBeGreaterThanOrEqual(MINUTE);
    expect(h().emulator.updates(APP_ID)).toHaveLength(1);
  });

  it('a wrong token is a 401, not retried, and the token appears in no error', async () => {
    const a = await h().scaler();
    const { DoAppsClient } = await import('../src/do-apps.js');
    const wrong = 'dop_v1_wrong_token_must_not_leak';
    const api = new DoAppsClient({ baseUrl: h().emulator.url, token: wrong });
    const err = (await api.getApp(APP_ID).catch((e: Error) => e)) as Error;
    expect(err.message).toContain('401 unauthorized');
    expect(err.message).not.toContain(wrong);
    expect(h().emulator.requests.filter((r) => r.status === 401)).toHaveLength(1);
    void a;
  });
});
