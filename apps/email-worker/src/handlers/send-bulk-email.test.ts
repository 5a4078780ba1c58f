import { randomUUID } from 'node:crypto';
import type { CampaignRow, MailboxRow } from '@coldcopy/db';
import { describe, expect, it } from 'vitest';
import { createFakeDeps, fakeContext } from '../../test/fixtures/fake-deps.js';
import { createFakeCampaignTickStore } from '../providers/fake-campaign-tick-store.js';
import { sendBulkEmailHandler } from './send-bulk-email.js';

function setup(options: { leads: number; dailyLimit?: number; status?: string; window?: { start: string; end: string } }) {
  const f = createFakeDeps();
  const campaign = {
    id: randomUUID(),
    status: options.status ?? 'active',
    timezone: 'UTC',
    schedule_settings: options.window ? { sendBetween: options.window } : {},
    daily_limit: options.dailyLimit ?? 1000,
  } as unknown as CampaignRow;
  const mailboxes = [{ id: randomUUID(), status: 'active' }, { id: randomUUID(), status: 'active' }] as MailboxRow[];
  const due = Array.from({ length: options.leads }, (_, i) => ({ enrolment_id: randomUUID(), lead_id: randomUUID(), email: `l${i}@x.example`, next_step: 1 }));
  const ticks = createFakeCampaignTickStore(campaign, mailboxes, due);
  const deps = { ...f.deps, campaignTicks: ticks };
  const run = (batchSize = 50) =>
    sendBulkEmailHandler({ workspaceId: randomUUID(), requestedBy: 'system', campaignId: campaign.id, windowSlot: '20261201T1500Z', batchSize }, fakeContext(deps));
  return { ...f, ticks, run };
}

describe('send-bulk-email handler', () => {
  it('schedules a batch, fans out deterministic keys, and a repeated tick adds nothing', async () => {
    const s = setup({ leads: 30 });
    expect(await s.run(20)).toMatchObject({ scheduled: 20, queued: 20, remaining: true });
    expect(s.followUps.jobs).toHaveLength(20);
    expect(s.followUps.jobs.every((j) => j.key === j.payload.campaignEmailId)).toBe(true);
    await s.run(20);
    await s.run(20);
    expect(s.ticks.rows.size).toBe(30);
    expect(new Set(s.followUps.jobs.map((j) => j.key)).size).toBe(30);
  });

  it('stops at the daily limit, outside the window, and for inactive campaigns', async () => {
    const limited = setup({ leads: 10, dailyLimit: 3 });
    expect(await limited.run()).toMatchObject({ scheduled: 3, skippedLimit: 7 });
    expect(await limited.run()).toMatchObject({ scheduled: 0, skipped: 'daily-limit' });
    // the fake clock is 15:00 UTC
    expect(await setup({ leads: 2, window: { start: '16:00', end: '17:00' } }).run()).toMatchObject({ skipped: 'outside-window' });
    expect(await setup({ leads: 2, status: 'paused' }).run()).toMatchObject({ skipped: 'campaign-not-active' });
  });
});
