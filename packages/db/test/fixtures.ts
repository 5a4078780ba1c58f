import { randomUUID } from 'node:crypto';
import type { Queryable } from '../src/pool.js';

export interface TenantFixture {
  workspaceId: string;
  mailboxId: string;
  campaignId: string;
  leadId: string;
  leadEmail: string;
  enrolmentId: string;
  /** a scheduled send of step 1 */
  campaignEmailId: string;
}

/** A small workspace: one mailbox, a 3-step campaign, one enrolled lead with a scheduled send. */
export async function createTenant(db: Queryable, label: string): Promise<TenantFixture> {
  const workspaceId = randomUUID();
  const slug = `${label}-${workspaceId.slice(0, 8)}`;
  await db.query(
    `INSERT INTO workspaces (id, name, slug, status, settings) VALUES ($1, $2, $3, 'active', $4)`,
    [workspaceId, `Workspace ${label}`, slug, { email: { sender_email: `hello@${slug}.example`, sender_name: label } }],
  );
  const mailboxId = randomUUID();
  await db.query(
    `INSERT INTO mailboxes (id, workspace_id, email, domain, status) VALUES ($1, $2, $3, $4, 'active')`,
    [mailboxId, workspaceId, `sender@${slug}.example`, `${slug}.example`],
  );
  const campaignId = randomUUID();
  await db.query(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, $3, 'active')`, [
    campaignId,
    workspaceId,
    `Campaign ${label}`,
  ]);
  for (const step of [1, 2, 3]) {
    await db.query(
      `INSERT INTO campaign_sequences (workspace_id, campaign_id, step_number, subject, body, delay_days)
       VALUES ($1, $2, $3, $4, 'Hi {{first_name}}', $5)`,
      [workspaceId, campaignId, step, `Step ${step}`, step === 1 ? 0 : 2],
    );
  }
  await db.query(`INSERT INTO campaign_mailboxes (workspace_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)`, [
    workspaceId,
    campaignId,
    mailboxId,
  ]);
  const leadId = randomUUID();
  const leadEmail = `lead@${slug}.example`;
  await db.query(`INSERT INTO leads (id, workspace_id, email, first_name) VALUES ($1, $2, $3, 'Ada')`, [
    leadId,
    workspaceId,
    leadEmail,
  ]);
  const enrolmentId = randomUUID();
  await db.query(
    `INSERT INTO campaign_leads (id, workspace_id, campaign_id, lead_id, status, next_email_at)
     VALUES ($1, $2, $3, $4, 'pending', now() - interval '1 minute')`,
    [enrolmentId, workspaceId, campaignId, leadId],
  );
  const campaignEmailId = randomUUID();
  await db.query(
    `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status)
     VALUES ($1, $2, $3, $4, 1, $5, 'scheduled')`,
    [campaignEmailId, workspaceId, campaignId, leadId, mailboxId],
  );
  return { workspaceId, mailboxId, campaignId, leadId, leadEmail, enrolmentId, campaignEmailId };
}
