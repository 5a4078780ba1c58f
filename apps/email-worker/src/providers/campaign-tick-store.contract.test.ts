import { randomUUID } from 'node:crypto';
import type { CampaignRow, MailboxRow } from '@coldcopy/db';
import { runCampaignTickStoreContract } from './campaign-tick-store.contract.js';
import { createFakeCampaignTickStore } from './fake-campaign-tick-store.js';

runCampaignTickStoreContract('in-memory fake', async () => {
  const fake = createFakeCampaignTickStore({
    campaigns: [],
    steps: [
      { delay_days: 2, delay_hours: 0 },
      { delay_days: 1, delay_hours: 3 },
    ],
  });
  const emails = new Map<string, string>();
  const row = (id: string) => [...fake.rows.values()].find((r) => r.id === id)!;
  const enrolment = (campaignId: string, id: string) => fake.enrolments.get(campaignId)!.find((e) => e.id === id)!;
  return {
    store: fake,
    async addCampaign(options = {}) {
      const workspaceId = randomUUID();
      const campaign = {
        id: randomUUID(),
        workspace_id: workspaceId,
        status: options.status ?? 'active',
        timezone: 'UTC',
        schedule_settings: {},
        settings: {},
        next_run_at: null,
        started_at: null,
        completed_at: null,
        deleted_at: null,
      } as unknown as CampaignRow;
      const mailbox = { id: randomUUID(), workspace_id: workspaceId, status: 'active' } as MailboxRow;
      fake.campaigns.set(campaign.id, campaign);
      fake.assignMailboxes(campaign.id, [mailbox]);
      return { workspaceId, campaignId: campaign.id, mailboxId: mailbox.id };
    },
    async enrol(c, count, options = {}) {
      const now = new Date();
      const added = fake.enrol(c.campaignId, count, now, options.nextEmailAt === undefined ? {} : { nextEmailAt: options.nextEmailAt });
      for (const e of added) emails.set(e.leadId, e.email);
      return added.map((e) => ({ enrolmentId: e.id, leadId: e.leadId }));
    },
    async suppress(c, leadId, type) {
      const e = fake.enrolments.get(c.campaignId)!.find((x) => x.leadId === leadId)!;
      e.suppressed = type === 'bounce' ? 'bounced' : 'unsubscribed';
    },
    async setSend(_c, id, patch) {
      const r = row(id);
      if (patch.status !== undefined) r.status = patch.status;
      if (patch.claimedAt !== undefined) r.claimedAt = patch.claimedAt;
      if (patch.attempt !== undefined) r.attempt = patch.attempt;
    },
    async sendStatus(_c, id) {
      return row(id).status;
    },
    async enrolment(c, id) {
      const e = enrolment(c.campaignId, id);
      return { status: e.status, currentStep: e.currentStep, nextEmailAt: e.nextEmailAt };
    },
  };
});
