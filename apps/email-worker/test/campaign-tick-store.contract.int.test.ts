import { randomUUID } from 'node:crypto';
import { addSuppression } from '@coldcopy/db';
import { runCampaignTickStoreContract } from '../src/providers/campaign-tick-store.contract.js';
import { createPgCampaignTickStore } from '../src/providers/campaign-tick-store.js';
import { usePostgres } from './fixtures/postgres.js';
import { seedCampaign } from './fixtures/seed.js';

const pg = usePostgres();

runCampaignTickStoreContract('Postgres adapter', async () => {
  const pool = pg.pool;
  return {
    store: createPgCampaignTickStore(pool),
    async addCampaign(options = {}) {
      const seed = await seedCampaign(pool, { leads: 0, steps: 2, status: options.status === 'scheduled' ? 'paused' : 'active' });
      // the fixture's steps wait 2 days each: step 2 waits 1 day 3 hours here (the contract's sequence)
      await pool.query('UPDATE campaign_sequences SET delay_days = 1, delay_hours = 3 WHERE campaign_id = $1 AND step_number = 2', [seed.campaignId]);
      if (options.status === 'scheduled') await pool.query(`UPDATE campaigns SET status = 'scheduled' WHERE id = $1`, [seed.campaignId]);
      return { workspaceId: seed.workspaceId, campaignId: seed.campaignId, mailboxId: seed.mailboxId };
    },
    async enrol(c, count, options = {}) {
      const list = Array.from({ length: count }, () => ({ enrolmentId: randomUUID(), leadId: randomUUID() }));
      const nextEmailAt = options.nextEmailAt === undefined ? new Date(Date.now() - 60_000) : options.nextEmailAt;
      for (const e of list) {
        await pool.query(`INSERT INTO leads (id, workspace_id, email, first_name) VALUES ($1, $2, $3, 'Lead')`, [
          e.leadId,
          c.workspaceId,
          `${e.leadId}@lead.example`,
        ]);
        await pool.query(`INSERT INTO campaign_leads (id, workspace_id, campaign_id, lead_id, status, next_email_at) VALUES ($1, $2, $3, $4, 'pending', $5)`, [
          e.enrolmentId,
          c.workspaceId,
          c.campaignId,
          e.leadId,
          nextEmailAt,
        ]);
      }
      return list;
    },
    async suppress(c, leadId, type) {
      await addSuppression(pool, c.workspaceId, { email: `${leadId}@lead.example`, type, source: 'webhook' });
    },
    async setSend(c, id, patch) {
      await pool.query(
        `UPDATE campaign_emails SET status = coalesce($3, status), claimed_at = coalesce($4, claimed_at), attempt = coalesce($5, attempt)
         WHERE id = $1 AND workspace_id = $2`,
        [id, c.workspaceId, patch.status ?? null, patch.claimedAt ?? null, patch.attempt ?? null],
      );
    },
    async sendStatus(c, id) {
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM campaign_emails WHERE id = $1 AND workspace_id = $2', [id, c.workspaceId]);
      return rows[0]!.status;
    },
    async enrolment(c, id) {
      const { rows } = await pool.query<{ status: string; current_step: number; next_email_at: Date | null }>(
        'SELECT status, current_step, next_email_at FROM campaign_leads WHERE id = $1 AND workspace_id = $2',
        [id, c.workspaceId],
      );
      const e = rows[0]!;
      return { status: e.status, currentStep: e.current_step, nextEmailAt: e.next_email_at };
    },
  };
});
