import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MissingPartitionError } from '../src/errors.js';
import { insertEmailEvent } from '../src/repositories/email-events.js';
import { listEmailEventsPartitions, maintainEmailEventsPartitions } from '../src/maintenance.js';
import { loadDbEnv } from '../src/env.js';
import { closePool, createPool } from '../src/pool.js';
import { createTenant, type TenantFixture } from './fixtures.js';

let db: TestDatabase;
let pool: pg.Pool;
let t: TenantFixture;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  // with its 'error' listener: a connection that the database drop terminates must not crash the run
  pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '3' }));
  t = await createTenant(pool, 'parts');
});

afterAll(async () => {
  if (pool) await closePool(pool);
  await db?.drop();
});

/** `email_events_YYYY_MM` of the month `offset` months from `base` (UTC). */
function partitionName(base: Date, offset: number): string {
  const d = new Date(Date.UTC(base.getUTCFullYear(), base.getUTCMonth() + offset, 1));
  return `email_events_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function monthStart(base: Date, offset: number): Date {
  return new Date(Date.UTC(base.getUTCFullYear(), base.getUTCMonth() + offset, 1));
}

describe('email_events partitions', () => {
  it('exist for the previous, current and next 3 months right after migrating', async () => {
    const now = new Date();
    expect(await listEmailEventsPartitions(pool)).toEqual([-1, 0, 1, 2, 3].map((m) => partitionName(now, m)));
  });

  it('take events for the current and the next month, each in its own partition', async () => {
    const now = new Date();
    const nextMonth = new Date(monthStart(now, 1).getTime() + 5 * 86_400_000);
    await insertEmailEvent(pool, t.workspaceId, { eventType: 'sent', campaignEmailId: t.campaignEmailId });
    await insertEmailEvent(pool, t.workspaceId, { eventType: 'opened', campaignEmailId: t.campaignEmailId, occurredAt: nextMonth });
    const { rows } = await pool.query<{ partition: string; event_type: string }>(
      `SELECT tableoid::regclass::text AS partition, event_type FROM email_events WHERE workspace_id = $1 ORDER BY created_at`,
      [t.workspaceId],
    );
    expect(rows).toEqual([
      { partition: partitionName(now, 0), event_type: 'sent' },
      { partition: partitionName(now, 1), event_type: 'opened' },
    ]);
  });

  it('refuse an event for a month without a partition with a typed error', async () => {
    const farFuture = monthStart(new Date(), 30);
    await expect(
      insertEmailEvent(pool, t.workspaceId, { eventType: 'opened', campaignEmailId: t.campaignEmailId, occurredAt: farFuture }),
    ).rejects.toBeInstanceOf(MissingPartitionError);
  });

  it('maintenance creates the next 3 months and drops months past retention', async () => {
    // pretend it is 14 months later: everything from before the retention window must go
    const now = new Date();
    const later = new Date(monthStart(now, 14).getTime() + 10 * 86_400_000);
    const changes = await maintainEmailEventsPartitions(pool, { monthsAhead: 3, retentionMonths: 13, now: later });

    const created = changes.filter((c) => c.action === 'created').map((c) => c.partition_name);
    const dropped = changes.filter((c) => c.action === 'dropped').map((c) => c.partition_name);
    // months 14..17 (the "current" month of `later` plus 3) did not exist yet
    expect(created).toEqual([14, 15, 16, 17].map((m) => partitionName(now, m)));
    // retention 13 months before month 14 = month 1: months -1 and 0 end on or before it and go
    expect(dropped).toEqual([-1, 0].map((m) => partitionName(now, m)));
    const partitions = await listEmailEventsPartitions(pool);
    expect(partitions).toEqual([1, 2, 3, 14, 15, 16, 17].map((m) => partitionName(now, m)));

    // the event of the current month went with its partition; next month's event is kept
    const { rows } = await pool.query<{ event_type: string }>('SELECT event_type FROM email_events WHERE workspace_id = $1', [t.workspaceId]);
    expect(rows.map((r) => r.event_type)).toEqual(['opened']);

    // running it again at the same moment changes nothing
    expect(await maintainEmailEventsPartitions(pool, { monthsAhead: 3, retentionMonths: 13, now: later })).toEqual([]);

    const log = await pool.query<{ action: string; n: number }>(
      `SELECT action, count(*)::int AS n FROM partition_maintenance_log GROUP BY action ORDER BY action`,
    );
    expect(log.rows).toEqual([
      { action: 'created', n: 5 + 4 },
      { action: 'dropped', n: 2 },
    ]);
  });

  it('refuses to drop partitions a workspace retention policy still needs', async () => {
    await pool.query(`INSERT INTO data_retention_policies (workspace_id, data_type, retention_days) VALUES ($1, 'email_events', 800)`, [t.workspaceId]);
    await expect(maintainEmailEventsPartitions(pool, { retentionMonths: 13 })).rejects.toThrow(/shorter than the longest workspace/);
    await pool.query(`DELETE FROM data_retention_policies WHERE workspace_id = $1`, [t.workspaceId]);
  });
});
