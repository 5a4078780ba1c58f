import { randomUUID } from 'node:crypto';
import { addSuppression } from '@coldcopy/db';
import { runEmailStoreContract } from '../src/providers/email-store.contract.js';
import { createPgEmailStore } from '../src/providers/pg-email-store.js';
import { usePostgres } from './fixtures/postgres.js';
import { seedCampaign } from './fixtures/seed.js';

const pg = usePostgres();

runEmailStoreContract('Postgres adapter', async () => {
  const pool = pg.pool;
  const seed = await seedCampaign(pool, { leads: 0, steps: 2 });
  const ws = seed.workspaceId;
  let n = 0;
  return {
    store: createPgEmailStore(pool),
    workspaceId: ws,
    async addSend(recipient = `lead-${++n}-${randomUUID().slice(0, 8)}@gmail.example`) {
      const leadId = randomUUID();
      const id = randomUUID();
      await pool.query(`INSERT INTO leads (id, workspace_id, email, first_name) VALUES ($1, $2, $3, 'Grace')`, [leadId, ws, recipient]);
      await pool.query(`INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status) VALUES ($1, $2, $3, 'pending')`, [ws, seed.campaignId, leadId]);
      await pool.query(
        `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status, scheduled_at)
         VALUES ($1, $2, $3, $4, 1, $5, 'scheduled', now() - interval '1 minute')`,
        [id, ws, seed.campaignId, leadId, seed.mailboxId],
      );
      return id;
    },
    async suppress(email) {
      await addSuppression(pool, ws, { email, type: 'unsubscribe', source: 'manual' });
    },
    async grantConsent(leadId) {
      await pool.query(`INSERT INTO consent_records (workspace_id, lead_id, consent_type, status) VALUES ($1, $2, 'marketing', 'granted')`, [ws, leadId]);
    },
    async status(id) {
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM campaign_emails WHERE id = $1', [id]);
      return rows[0]!.status;
    },
    async enrolmentStatus(id) {
      const { rows } = await pool.query<{ status: string }>('SELECT status FROM campaign_leads WHERE id = $1', [id]);
      return rows[0]!.status;
    },
    async ageClaim(id, ms) {
      await pool.query(`UPDATE campaign_emails SET claimed_at = claimed_at - make_interval(secs => $2::double precision / 1000) WHERE id = $1`, [id, ms]);
    },
  };
});
