import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { listEnrolmentsToTick } from '../src/index.js';
import { useTwoTenants } from './fixtures.js';
import { tuplesRead } from './tuples-read.js';

/*
 * The campaign tick's pick of due enrolments (listEnrolmentsToTick) reads in proportion to its
 * batch, not to the campaign: while most enrolments are due (a campaign's first send), a join of
 * the whole campaign before the LIMIT read every enrolment, lead and ledger row on every tick.
 * Enrolments it cannot act on (lead deleted) are paged past and never hold back those after them.
 */

const fx = useTwoTenants();

/** `n` more due leads enrolled in tenant A's campaign (due `ago` back); returns their lead ids. */
async function enrolDue(db: pg.Pool, n: number, ago = '1 minute'): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH l AS (
       INSERT INTO leads (workspace_id, email, first_name)
       SELECT $1, 'tick' || i || '-' || gen_random_uuid() || '@tick.example', 'Lead' FROM generate_series(1, $3::int) i RETURNING id)
     INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status, next_email_at)
     SELECT $1, $2, l.id, 'pending', now() - $4::interval FROM l RETURNING lead_id AS id`,
    [fx.a.workspaceId, fx.a.campaignId, n, ago],
  );
  return rows.map((r) => r.id);
}

const TABLES = ['campaign_leads', 'leads', 'campaign_emails'] as const;

describe('the campaign tick', () => {
  it('reads about the same tuples for its batch with 300 and with 3,000 due enrolments', async () => {
    const { workspaceId: ws, campaignId } = fx.a;
    const read = async () => {
      await fx.pool.query('ANALYZE campaign_emails, campaign_leads, leads');
      let picked = 0;
      const counts = await tuplesRead(fx.pool, TABLES, async (db) => {
        picked = (await listEnrolmentsToTick(db, ws, campaignId, new Date(), 50)).length;
      });
      expect(picked).toBe(50);
      return counts;
    };
    await enrolDue(fx.pool, 300);
    const small = await read();
    await enrolDue(fx.pool, 2700);
    const large = await read();
    for (const table of TABLES) {
      expect(large[table], `${table}: ${small[table]} tuples read with 300 due, ${large[table]} with 3,000`).toBeLessThanOrEqual(small[table]! + 10);
    }
  });

  it('pages past due enrolments of deleted leads instead of being held back by them', async () => {
    const { workspaceId: ws, campaignId } = fx.a;
    const gone = await enrolDue(fx.pool, 120, '1 hour'); // due first, more than a batch
    await fx.pool.query('UPDATE leads SET deleted_at = now() WHERE id = ANY($1)', [gone]);
    const live = new Set(await enrolDue(fx.pool, 80));
    const picked = await listEnrolmentsToTick(fx.pool, ws, campaignId, new Date(), 50);
    expect(picked).toHaveLength(50);
    expect(picked.every((e) => live.has(e.lead_id) && e.next_step === 1 && e.suppressed === null)).toBe(true);
    // the rest of the live ones, then nothing more
    const all = await listEnrolmentsToTick(fx.pool, ws, campaignId, new Date(), 500);
    expect(all.filter((e) => live.has(e.lead_id))).toHaveLength(80);
    expect(all.some((e) => gone.includes(e.lead_id))).toBe(false);
  });
});
