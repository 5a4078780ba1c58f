import { randomUUID } from 'node:crypto';
import { createFakeWarmupStore, type FakeWarmup } from './fake-warmup-store.js';
import { runWarmupStoreContract } from './warmup-store.contract.js';

runWarmupStoreContract('in-memory fake', async () => {
  const fake = createFakeWarmupStore([], randomUUID());
  const warmup = (id: string): FakeWarmup => fake.warmups.get(id)!;
  return {
    store: fake,
    mailbox: {
      workspaceId: fake.campaign.workspace_id,
      warmupCampaignId: fake.campaign.id,
      senderAccountId: fake.sender.id,
      recipientAccountId: fake.recipient.id,
      mailboxId: fake.mailbox.id,
    },
    async addWarmup(options = {}) {
      const w: FakeWarmup = {
        id: randomUUID(),
        workspaceId: randomUUID(),
        senderAccountId: randomUUID(),
        status: 'active',
        mailboxStatus: options.mailboxPaused ? 'paused' : 'active',
        senderStatus: options.senderPaused ? 'paused' : 'active',
        dayNumber: 3,
        currentDailyLimit: options.currentDailyLimit ?? 15,
        targetDaily: options.targetDaily ?? 40,
        maxSendsPerDay: 100,
        peerIds: Array.from({ length: options.peers ?? 2 }, () => randomUUID()).sort(),
        claimed: new Map(),
        stats: new Map(),
      };
      fake.warmups.set(w.id, w);
      return { workspaceId: w.workspaceId, warmupCampaignId: w.id, senderAccountId: w.senderAccountId, peerIds: [...w.peerIds] };
    },
    async claimSeq(w, date, seq) {
      const claimed = warmup(w.warmupCampaignId).claimed;
      claimed.set(date, [...(claimed.get(date) ?? []), seq]);
    },
    async setStats(w, date, stats) {
      warmup(w.warmupCampaignId).stats.set(date, stats);
    },
    async ramp(w) {
      const x = warmup(w.warmupCampaignId);
      return { dayNumber: x.dayNumber, currentDailyLimit: x.currentDailyLimit };
    },
  };
});
