import type pg from 'pg';

/**
 * Reads of each table (sequential and index fetches) by `fn` on one connection, from
 * pg_stat_xact_user_tables (this transaction's counts, exact and not delayed); the transaction is
 * rolled back, so `fn` leaves nothing behind.
 */
export async function tuplesRead(pool: pg.Pool, tables: readonly string[], fn: (db: pg.PoolClient) => Promise<unknown>): Promise<Record<string, number>> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const counts = async () =>
      Object.fromEntries(
        (
          await client.query<{ relname: string; n: string }>(
            `SELECT relname, (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::text AS n FROM pg_stat_xact_user_tables WHERE relname = ANY($1)`,
            [tables],
          )
        ).rows.map((r) => [r.relname, Number(r.n)]),
      );
    const before = await counts();
    await fn(client);
    const after = await counts();
    return Object.fromEntries(tables.map((t) => [t, (after[t] ?? 0) - (before[t] ?? 0)]));
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}
