import { describe, expect, it } from 'vitest';
import { withTransaction } from '../src/pool.js';
import { useTwoTenants } from './fixtures.js';

const fx = useTwoTenants();

describe('withTransaction', () => {
  it('a connection lost between two statements (a Postgres restart, a reset) fails the transaction; no unhandled error event ends the process', async () => {
    const err = await withTransaction(fx.pool, async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // from another client of the pool, as a restart would: the FATAL message arrives while no statement runs
      await fx.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await new Promise((r) => setTimeout(r, 300));
      await tx.query('SELECT 1');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    // the broken client was not given back to the pool: the next transaction works
    expect(await withTransaction(fx.pool, async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1);
  });
});
