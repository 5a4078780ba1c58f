import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CleanupResult } from '../src/domain/cleanup.js';
import { cleanupOldDataHandler } from '../src/handlers/cleanup-old-data.js';
import { testContext, useMaintenanceHarness } from './harness.js';
import { probeWriterDuring, seedOldEvents } from './lock-probe.js';

const h = useMaintenanceHarness();

describe('cleanup-old-data and live traffic', () => {
  it('a writer inserting events under lock_timeout = 200ms never times out while old events are deleted in batches', async () => {
    const ws = randomUUID();
    await h.pool.query(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'busy', $2)`, [ws, `busy-${ws.slice(0, 8)}`]);
    // 370 days ago always lies between the 365-day default and the 13-month partition floor
    const old = new Date(Date.now() - 370 * 86_400_000);
    await h.pool.query(`SELECT create_email_events_partition($1::date)`, [old]);
    const rows = 20_000;
    await seedOldEvents(h.pool, ws, rows, old);
    // and a month past the floor, dropped whole (DROP takes a brief exclusive lock on email_events)
    const ancient = new Date(Date.now() - 600 * 86_400_000);
    await h.pool.query(`SELECT create_email_events_partition($1::date)`, [ancient]);
    await seedOldEvents(h.pool, ws, 1_000, ancient);

    const deps = h.deps({ config: { cleanup: { statementTimeoutMs: 15_000, lockTimeoutMs: 100, batchPauseMs: 5, lockRetries: 20 } } });
    const { probe, result } = await probeWriterDuring(
      h.pool,
      ws,
      async () =>
        (await cleanupOldDataHandler(
          { dryRun: false, batchSize: 500, only: ['email_event_partitions', 'email_events'], requestedBy: 'system' },
          testContext(deps),
        )) as CleanupResult,
    );

    expect(result.changes.filter((c) => c.action === 'deleted')).toEqual([
      { workspaceId: ws, rule: 'email_events', table: 'email_events', action: 'deleted', rows },
    ]);
    expect(result.droppedPartitions.reduce((n, p) => n + p.rows, 0)).toBe(1_000);
    expect(probe.otherErrors).toEqual([]);
    expect(probe.inserts).toBeGreaterThan(0);
    // every insert got its locks within 200 ms: none failed on the lock timeout
    expect(probe.lockTimeouts).toBe(0);
    console.info(`lock probe: ${JSON.stringify(probe)}`);
  }, 120_000);

  it('the probe sees a lock wait: an exclusive lock held for 1 s makes the writer time out', async () => {
    const ws = randomUUID();
    await h.pool.query(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'blocked', $2)`, [ws, `blocked-${ws.slice(0, 8)}`]);
    const { probe } = await probeWriterDuring(h.pool, ws, async () => {
      const blocker = await h.pool.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE email_events IN SHARE MODE');
        await blocker.query('SELECT pg_sleep(1)');
        await blocker.query('COMMIT');
      } finally {
        blocker.release();
      }
    });
    expect(probe.lockTimeouts).toBeGreaterThan(0);
    expect(probe.maxLockWaitMs).toBeGreaterThan(0);
  });
});
