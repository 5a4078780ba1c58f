import { randomUUID } from 'node:crypto';
import type { Pool } from '@coldcopy/db';

/**
 * A live writer next to a cleanup run: inserts email_events one at a time with
 * `lock_timeout = 200ms` (a lock wait longer than that fails the insert with 55P03), while a
 * watcher samples pg_stat_activity for the writer waiting on a heavyweight lock and keeps the
 * longest wait it saw. Used by the lock test (small N) and the bench (1,000,000 rows).
 */
export interface LockProbeResult {
  inserts: number;
  lockTimeouts: number;
  otherErrors: string[];
  /** longest insert round trip, including the machine's load (not asserted) */
  maxInsertMs: number;
  /** longest lock wait of the writer seen by the watcher (pg_stat_activity, sampled every 5 ms) */
  maxLockWaitMs: number;
  lockWaitSamples: number;
}

export async function seedOldEvents(pool: Pool, workspaceId: string, rows: number, createdAt: Date): Promise<void> {
  const chunk = 100_000;
  for (let done = 0; done < rows; done += chunk) {
    await pool.query(
      `INSERT INTO email_events (workspace_id, event_type, created_at, metadata)
       SELECT $1, 'delivered', $2::timestamptz + (g * interval '1 millisecond'), '{"probe":true}'::jsonb FROM generate_series(1, $3) g`,
      [workspaceId, createdAt, Math.min(chunk, rows - done)],
    );
  }
}

export async function probeWriterDuring<T>(pool: Pool, workspaceId: string, work: () => Promise<T>): Promise<{ probe: LockProbeResult; result: T }> {
  const writer = await pool.connect();
  const watcher = await pool.connect();
  const probe: LockProbeResult = { inserts: 0, lockTimeouts: 0, otherErrors: [], maxInsertMs: 0, maxLockWaitMs: 0, lockWaitSamples: 0 };
  let done = false;
  try {
    await writer.query(`SET lock_timeout = '200ms'`);
    const pid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const writing = (async () => {
      while (!done) {
        const started = performance.now();
        try {
          await writer.query(`INSERT INTO email_events (workspace_id, event_type, provider_event_id) VALUES ($1, 'opened', $2)`, [workspaceId, randomUUID()]);
          probe.inserts++;
        } catch (err) {
          if ((err as { code?: string }).code === '55P03') probe.lockTimeouts++;
          else probe.otherErrors.push((err as Error).message);
        }
        probe.maxInsertMs = Math.max(probe.maxInsertMs, performance.now() - started);
      }
    })();
    const watching = (async () => {
      while (!done) {
        const { rows } = await watcher.query<{ ms: number | null }>(
          `SELECT extract(epoch FROM clock_timestamp() - state_change) * 1000 AS ms FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
          [pid],
        );
        if (rows[0]?.ms != null) {
          probe.lockWaitSamples++;
          probe.maxLockWaitMs = Math.max(probe.maxLockWaitMs, Number(rows[0].ms));
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const result = await work();
      return { probe, result };
    } finally {
      done = true;
      await Promise.all([writing, watching]);
    }
  } finally {
    writer.release();
    watcher.release();
  }
}
