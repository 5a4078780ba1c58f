import { randomUUID } from 'node:crypto';
import { createPgWebhookStore } from '../src/providers/pg-webhook-store.js';
import { runWebhookStoreContract } from '../src/providers/webhook-store.contract.js';
import { usePostgres } from './fixtures/postgres.js';
import { seedCampaign } from './fixtures/seed.js';

const pg = usePostgres();

runWebhookStoreContract('Postgres adapter', async () => {
  const pool = pg.pool;
  return {
    store: createPgWebhookStore(pool),
    async addSend() {
      const seed = await seedCampaign(pool, { leads: 1, scheduleStep1: true });
      const sesMessageId = `0100${randomUUID().replaceAll('-', '')}-000000`;
      const campaignEmailId = seed.sendIds[0]!;
      const lead = seed.leads[0]!;
      await pool.query(`UPDATE campaign_emails SET status = 'sent', message_id = $2, sent_at = now(), attempt = 1 WHERE id = $1`, [
        campaignEmailId,
        sesMessageId,
      ]);
      await pool.query(`UPDATE campaign_leads SET status = 'in_progress', current_step = 1 WHERE id = $1`, [lead.enrolmentId]);
      const { rows } = await pool.query<{ email: string }>('SELECT email FROM mailboxes WHERE id = $1', [seed.mailboxId]);
      return {
        workspaceId: seed.workspaceId,
        campaignEmailId,
        campaignId: seed.campaignId,
        mailboxId: seed.mailboxId,
        mailboxAddress: rows[0]!.email,
        leadId: lead.leadId,
        leadEmail: lead.email,
        sesMessageId,
      };
    },
  };
});
