import { ANALYTICS_VIEWS, closePool, createPool, loadDbEnv } from '@coldcopy/db';
import { seedDemo } from '@coldcopy/db/seed';
import { describe, expect, it } from 'vitest';
import { refreshAnalyticsHandler, type RefreshAnalyticsResult } from '../src/handlers/refresh-analytics.js';
import { testContext, useAnalyticsHarness } from './harness.js';

const h = useAnalyticsHarness();
type Views = NonNullable<Parameters<typeof refreshAnalyticsHandler>[0]['views']>;
const run = (group: 'every-15-min' | 'every-30-min' | 'hourly' | 'every-6-hours' | 'manual', extra: { views?: Views; force?: boolean } = {}, deps = h.deps()) =>
  refreshAnalyticsHandler(
    { group, requestedBy: 'system', force: extra.force ?? false, ...(extra.views ? { views: extra.views } : {}) },
    testContext(deps),
  ) as Promise<RefreshAnalyticsResult>;

async function logRows(view: string) {
  const { rows } = await h.pool.query('SELECT status, used_concurrently, error FROM materialized_view_refresh_log WHERE view_name = $1 ORDER BY id', [view]);
  return rows as Array<{ status: string; used_concurrently: boolean; error: string | null }>;
}

describe('refresh-analytics', () => {
  it('skips a view whose dependency was never populated, then populates views plainly the first time and CONCURRENTLY after', async () => {
    const client = await h.pool.connect();
    await seedDemo(client, { seed: 303, leads: 300, refreshViews: false });
    client.release();

    const blocked = await run('hourly', { views: ['mv_workspace_analytics'] });
    expect(blocked.refreshed).toEqual([]);
    expect(blocked.skipped).toEqual([{ view: 'mv_workspace_analytics', reason: 'dependency mv_campaign_analytics is not populated' }]);

    const first = await run('manual');
    expect(first.skipped).toEqual([]);
    // every view, in the registry's dependency order (mv_workspace_analytics after mv_campaign_analytics)
    expect(first.refreshed.map((r) => r.view)).toEqual(ANALYTICS_VIEWS.map((d) => d.view));
    expect(first.refreshed.every((r) => !r.concurrently)).toBe(true);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM mv_campaign_analytics');
    expect(rows[0].n).toBeGreaterThan(0);

    // within the minimum interval: skipped with the reason, unless forced
    const soon = await run('every-15-min');
    expect(soon.refreshed).toEqual([]);
    expect(soon.skipped[0]!.reason).toMatch(/^refreshed \d+ s ago \(minimum interval 600 s\)$/);
    const forced = await run('every-15-min', { force: true });
    expect(forced.refreshed).toEqual([expect.objectContaining({ view: 'mv_campaign_analytics', concurrently: true })]);
    expect((await logRows('mv_campaign_analytics')).map((r) => [r.status, r.used_concurrently])).toEqual([
      ['success', false],
      ['skipped', true],
      ['success', true],
    ]);
  });

  it('skips with a reason while another refresher holds the view', async () => {
    const holder = await h.pool.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('coldcopy:refresh:mv_deliverability'))`);
    try {
      const result = await run('every-30-min', { force: true });
      expect(result).toEqual({ refreshed: [], skipped: [{ view: 'mv_deliverability', reason: 'refresh already running (advisory lock held)' }] });
    } finally {
      await holder.query(`SELECT pg_advisory_unlock(hashtext('coldcopy:refresh:mv_deliverability'))`);
      holder.release();
    }
    expect((await logRows('mv_deliverability')).at(-1)).toMatchObject({ status: 'skipped', error: 'refresh already running' });
  });

  it('two refreshers of one view never run together: the second skips while the first waits on a lock', async () => {
    // the first refresher stalls inside its refresh (a base table is locked), holding the view's lock
    const blocker = await h.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE campaign_emails IN ACCESS EXCLUSIVE MODE');
    const deps = h.deps({ config: { refresh: { statementTimeoutMs: 60_000, lockTimeoutMs: 30_000, staleAfterMs: 7_200_000 } } });
    const first = run('every-15-min', { force: true }, deps);
    try {
      // wait until the first refresher is inside the refresh (waiting for the table lock)
      for (let i = 0; i < 100; i++) {
        const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted`);
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const second = await run('every-15-min', { force: true }, deps);
      expect(second.skipped).toEqual([{ view: 'mv_campaign_analytics', reason: 'refresh already running (advisory lock held)' }]);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect((await first).refreshed).toEqual([expect.objectContaining({ view: 'mv_campaign_analytics', concurrently: true })]);
  });

  it('a lock timeout fails the view with its reason and leaves a failed log row', async () => {
    const blocker = await h.pool.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE campaign_emails IN ACCESS EXCLUSIVE MODE');
    try {
      const deps = h.deps({ config: { refresh: { statementTimeoutMs: 60_000, lockTimeoutMs: 200, staleAfterMs: 7_200_000 } } });
      await expect(run('every-15-min', { force: true }, deps)).rejects.toThrow('mv_campaign_analytics: lock timeout: a table lock was not granted in time');
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect((await logRows('mv_campaign_analytics')).at(-1)).toMatchObject({ status: 'failed', error: 'lock timeout: a table lock was not granted in time' });
  });

  it('refuses to refresh a populated view without a usable unique index (a plain refresh would block readers)', async () => {
    await h.pool.query('DROP INDEX mv_send_time_performance_pk');
    try {
      await expect(run('hourly', { views: ['mv_send_time_performance'], force: true })).rejects.toThrow(
        'mv_send_time_performance: missing unique index on plain columns: CONCURRENTLY impossible',
      );
    } finally {
      await h.pool.query('CREATE UNIQUE INDEX mv_send_time_performance_pk ON mv_send_time_performance (workspace_id, send_hour, day_of_week)');
    }
  });

  it('names ownership when the worker role may not refresh', async () => {
    await h.pool.query(
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'analytics_no_owner') THEN CREATE ROLE analytics_no_owner LOGIN; END IF; END $$`,
    );
    await h.pool.query('GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO analytics_no_owner');
    const url = new URL(h.db.url);
    url.username = 'analytics_no_owner';
    url.password = '';
    const pool = createPool(loadDbEnv({ DATABASE_URL: url.toString(), DATABASE_POOL_MAX: '2' }));
    try {
      await expect(run('every-30-min', { force: true }, h.deps({ pool }))).rejects.toThrow(
        'mv_deliverability: ownership: the worker role may not refresh this view',
      );
    } finally {
      await closePool(pool);
    }
  });

  it('a 30 s read of a view is never blocked by its refresh, and the refresh does not wait for the read', async () => {
    const reader = await h.pool.connect();
    await reader.query('SET statement_timeout = 0');
    const started = Date.now();
    // one statement that reads the view and keeps its lock for 30 s
    const read = reader.query(`SELECT (SELECT count(*) FROM mv_campaign_analytics)::int AS n, pg_sleep(30)`);
    await new Promise((r) => setTimeout(r, 500));
    let readDone = false;
    void read.then(() => (readDone = true));
    const refreshed = await run('every-15-min', { force: true });
    expect(refreshed.refreshed).toEqual([expect.objectContaining({ view: 'mv_campaign_analytics', concurrently: true })]);
    expect(readDone).toBe(false); // the refresh finished while the 30 s read still ran
    // short reads during and after the refresh answer at once
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM mv_campaign_analytics');
    const long = await read;
    await reader.query('RESET statement_timeout');
    reader.release();
    expect(long.rows[0].n).toBe(rows[0].n);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30_000);
  }, 60_000);
});
