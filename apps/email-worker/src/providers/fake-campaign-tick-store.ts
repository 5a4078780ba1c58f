import type { CampaignRow, EnrolmentToSchedule, MailboxRow } from '@coldcopy/db';
import type { CampaignTickStore } from './campaign-tick-store.js';

/** In-memory campaign tick store: enrolments due, ledger rows keyed by (lead, step). */
export function createFakeCampaignTickStore(campaign: CampaignRow, mailboxes: MailboxRow[], due: EnrolmentToSchedule[]) {
  const rows = new Map<string, { id: string; leadId: string; step: number; status: string; attempt: number; createdAt: Date }>();
  let n = 0;
  const store: CampaignTickStore = {
    async campaign() {
      return campaign;
    },
    async activeMailboxes() {
      return mailboxes.filter((m) => m.status === 'active');
    },
    async sendsSince(_ws, _id, since) {
      return [...rows.values()].filter((r) => r.createdAt >= since && r.status !== 'cancelled').length;
    },
    async enrolmentsToSchedule(_ws, _id, _now, limit) {
      return due.filter((e) => !rows.has(`${e.lead_id}:${e.next_step}`)).slice(0, limit);
    },
    async schedule(_ws, _id, list) {
      let added = 0;
      for (const r of list) {
        const key = `${r.leadId}:${r.stepNumber}`;
        if (rows.has(key)) continue;
        rows.set(key, { id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, leadId: r.leadId, step: r.stepNumber, status: 'scheduled', attempt: 0, createdAt: r.scheduledAt });
        added++;
      }
      return added;
    },
    async dueSends(_ws, _id, _before, limit) {
      return [...rows.values()].filter((r) => r.status === 'scheduled' || r.status === 'retryable').slice(0, limit).map((r) => ({ id: r.id, attempt: r.attempt }));
    },
    async settle() {
      return { expired: 0, resolved: 0 };
    },
  };
  return Object.assign(store, { rows });
}
