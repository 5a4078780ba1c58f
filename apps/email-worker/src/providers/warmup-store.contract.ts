import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { WarmupStore } from './warmup-store.js';

/*
 * Contract of the WarmupStore port, run against the in-memory fake (unit project,
 * warmup-store.contract.test.ts) and the Postgres adapter (integration project,
 * test/warmup-store.contract.int.test.ts). A world has one per-mailbox warm-up (day 3, cap 15,
 * target 40, a sender with its own mailbox and a peer in the same workspace) and adds fan-out
 * warm-ups, each in a workspace of its own.
 */

export interface MailboxWarmup {
  readonly workspaceId: string;
  readonly warmupCampaignId: string;
  readonly senderAccountId: string;
  readonly recipientAccountId: string;
  readonly mailboxId: string;
}

export interface FanOutWarmup {
  readonly workspaceId: string;
  readonly warmupCampaignId: string;
  readonly senderAccountId: string;
  /** the active accounts it may send to, sorted */
  readonly peerIds: readonly string[];
}

export interface WarmupWorld {
  readonly store: WarmupStore;
  readonly mailbox: MailboxWarmup;
  /**
   * A warm-up in a new workspace (day 3, current cap 15, target 40, sender max 100 a day) with
   * `peers` (default 2) other active accounts in that workspace; its mailbox or sender may be paused.
   */
  addWarmup(options?: {
    mailboxPaused?: boolean;
    senderPaused?: boolean;
    peers?: number;
    currentDailyLimit?: number;
    targetDaily?: number;
  }): Promise<FanOutWarmup>;
  /** the sender claimed the slot (campaign, sender, date, seq) */
  claimSeq(w: FanOutWarmup, date: string, seq: number): Promise<void>;
  /** the day's stats of a fan-out warm-up */
  setStats(w: FanOutWarmup, date: string, stats: { sent: number; delivered: number; bounced: number; spam: number; is_healthy: boolean }): Promise<void>;
  /** the fan-out warm-up's ramp */
  ramp(w: FanOutWarmup): Promise<{ dayNumber: number; currentDailyLimit: number }>;
}

const errorName = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err as Error).name,
  );

export function runWarmupStoreContract(name: string, makeWorld: () => Promise<WarmupWorld>): void {
  describe(`WarmupStore contract: ${name}`, () => {
    const DATE = '2026-12-05';
    const key = (m: MailboxWarmup, seq: number) => `${m.warmupCampaignId}:${m.senderAccountId}:${DATE}:${seq}`;
    const claim = (w: WarmupWorld, seq: number) =>
      w.store.claim(w.mailbox.workspaceId, {
        warmupCampaignId: w.mailbox.warmupCampaignId,
        senderAccountId: w.mailbox.senderAccountId,
        recipientAccountId: w.mailbox.recipientAccountId,
        key: key(w.mailbox, seq),
        subject: `Quick question ${seq}`,
      });
    const complete = (w: WarmupWorld, id: string, messageId: string) =>
      w.store.complete(w.mailbox.workspaceId, {
        id,
        messageId,
        sentAt: new Date(),
        warmupCampaignId: w.mailbox.warmupCampaignId,
        senderAccountId: w.mailbox.senderAccountId,
        date: DATE,
      });

    it('load: campaign, sender, recipient and mailbox; another workspace is refused, an unknown account not found', async () => {
      const w = await makeWorld();
      const m = w.mailbox;
      const ids = { warmupCampaignId: m.warmupCampaignId, senderAccountId: m.senderAccountId, recipientAccountId: m.recipientAccountId };
      const context = await w.store.load(m.workspaceId, ids);
      expect(context.campaign).toMatchObject({ id: m.warmupCampaignId, status: 'active', day_number: 3, current_daily_limit: 15, target_daily: 40 });
      expect(context.sender).toMatchObject({ id: m.senderAccountId, mailbox_id: m.mailboxId, status: 'active' });
      expect(context.recipient.id).toBe(m.recipientAccountId);
      expect(context.mailbox).toMatchObject({ id: m.mailboxId, status: 'active' });
      expect(await errorName(w.store.load(randomUUID(), ids))).toBe('TenancyError');
      expect(await errorName(w.store.load(m.workspaceId, { ...ids, recipientAccountId: randomUUID() }))).toBe('RecordNotFoundError');
    });

    it('claim takes a slot once; a released claim can be taken again', async () => {
      const w = await makeWorld();
      const first = await claim(w, 0);
      expect(first).toMatch(/^[0-9a-f-]{36}$/);
      expect(await claim(w, 0)).toBeNull();
      expect(await claim(w, 1)).not.toBeNull();
      await w.store.release(w.mailbox.workspaceId, first!);
      const again = await claim(w, 0);
      expect(again).not.toBeNull();
      expect(again).not.toBe(first);
    });

    it('complete counts the day once; a retried complete and a release after it change nothing', async () => {
      const w = await makeWorld();
      const m = w.mailbox;
      expect(await w.store.stats(m.workspaceId, m.warmupCampaignId, DATE)).toBeNull();
      const id = (await claim(w, 0))!;
      await complete(w, id, 'ses-1');
      await complete(w, id, 'ses-1'); // a retried write
      expect(await w.store.stats(m.workspaceId, m.warmupCampaignId, DATE)).toEqual({
        date: DATE,
        sent: 1,
        delivered: 0,
        bounced: 0,
        spam: 0,
        is_healthy: true,
      });
      await w.store.release(m.workspaceId, id); // only a pending claim can be given back
      expect(await claim(w, 0)).toBeNull();
      await complete(w, (await claim(w, 1))!, 'ses-2');
      expect((await w.store.stats(m.workspaceId, m.warmupCampaignId, DATE))?.sent).toBe(2);
      expect(await w.store.stats(m.workspaceId, m.warmupCampaignId, '2026-12-04')).toBeNull();
    });

    it('freeze: the ramp is frozen, the mailbox paused and the day marked unhealthy', async () => {
      const w = await makeWorld();
      const m = w.mailbox;
      await w.store.freeze(m.workspaceId, m.warmupCampaignId, m.mailboxId, DATE, 'bounce rate 6%');
      const context = await w.store.load(m.workspaceId, {
        warmupCampaignId: m.warmupCampaignId,
        senderAccountId: m.senderAccountId,
        recipientAccountId: m.recipientAccountId,
      });
      expect(context.campaign).toMatchObject({ status: 'frozen', paused_reason: 'bounce rate 6%' });
      expect(context.mailbox.status).toBe('paused');
      expect(await w.store.stats(m.workspaceId, m.warmupCampaignId, DATE)).toMatchObject({ sent: 0, is_healthy: false });
    });

    it('warmupsToSend: eligible warm-ups of every workspace by id, with cap, claimed seqs of the date and peers', async () => {
      const w = await makeWorld();
      const ok = await w.addWarmup({ currentDailyLimit: 25, targetDaily: 20 });
      const other = await w.addWarmup({ peers: 0 });
      const pausedMailbox = await w.addWarmup({ mailboxPaused: true });
      const pausedSender = await w.addWarmup({ senderPaused: true });
      const mine = new Set([ok, other, pausedMailbox, pausedSender].map((x) => x.warmupCampaignId));
      await w.claimSeq(ok, DATE, 2);
      await w.claimSeq(ok, DATE, 0);
      await w.claimSeq(ok, '2026-12-04', 1);
      const list = (await w.store.warmupsToSend({ date: DATE, batchSlot: `${DATE}T10`, limit: 1000 })).filter((x) => mine.has(x.warmup_campaign_id));
      expect(list.map((x) => x.warmup_campaign_id)).toEqual([ok.warmupCampaignId, other.warmupCampaignId].sort());
      expect(list.find((x) => x.warmup_campaign_id === ok.warmupCampaignId)).toEqual({
        warmup_campaign_id: ok.warmupCampaignId,
        workspace_id: ok.workspaceId,
        sender_account_id: ok.senderAccountId,
        day_number: 3,
        daily_limit: 20,
        max_sends_per_day: 100,
        claimed_seqs: [0, 2],
        peer_ids: [...ok.peerIds],
      });
      expect(list.find((x) => x.warmup_campaign_id === other.warmupCampaignId)).toMatchObject({ claimed_seqs: [], peer_ids: [], daily_limit: 15 });
      const after = list[0]!.warmup_campaign_id;
      const rest = (await w.store.warmupsToSend({ date: DATE, batchSlot: `${DATE}T10`, after, limit: 1000 })).filter((x) => mine.has(x.warmup_campaign_id));
      expect(rest.map((x) => x.warmup_campaign_id)).toEqual(list.slice(1).map((x) => x.warmup_campaign_id));
    });

    it('markBatched: a warm-up is fanned out once per batch slot, never moved back', async () => {
      const w = await makeWorld();
      const a = await w.addWarmup();
      const b = await w.addWarmup();
      const mine = new Set([a.warmupCampaignId, b.warmupCampaignId]);
      const listed = async (batchSlot: string) =>
        (await w.store.warmupsToSend({ date: DATE, batchSlot, limit: 1000 })).filter((x) => mine.has(x.warmup_campaign_id)).map((x) => x.warmup_campaign_id);
      const slot = `${DATE}T10`;
      expect(await w.store.markBatched([], slot)).toBe(0);
      expect(await w.store.markBatched([{ workspaceId: b.workspaceId, warmupCampaignId: a.warmupCampaignId }], slot)).toBe(0); // wrong pair
      expect(await w.store.markBatched([{ workspaceId: a.workspaceId, warmupCampaignId: a.warmupCampaignId }], slot)).toBe(1);
      expect(await w.store.markBatched([{ workspaceId: a.workspaceId, warmupCampaignId: a.warmupCampaignId }], slot)).toBe(0);
      expect(await w.store.markBatched([{ workspaceId: a.workspaceId, warmupCampaignId: a.warmupCampaignId }], `${DATE}T09`)).toBe(0);
      expect(await listed(slot)).toEqual([b.warmupCampaignId]);
      expect(await listed(`${DATE}T09`)).toEqual([b.warmupCampaignId]);
      expect(await listed(`${DATE}T11`)).toEqual([a.warmupCampaignId, b.warmupCampaignId].sort());
    });

    it('warmupsToAdvance and stepDays: each active warm-up advances or holds once per date, from the day it started from', async () => {
      const w = await makeWorld();
      const up = await w.addWarmup();
      const hold = await w.addWarmup();
      const mine = new Set([up.warmupCampaignId, hold.warmupCampaignId]);
      await w.setStats(up, '2026-12-04', { sent: 15, delivered: 15, bounced: 0, spam: 0, is_healthy: true });
      await w.setStats(up, '2026-12-03', { sent: 9, delivered: 9, bounced: 1, spam: 0, is_healthy: true });
      const toAdvance = async (date: string) => (await w.store.warmupsToAdvance({ date, limit: 1000 })).filter((x) => mine.has(x.warmup_campaign_id));
      const list = await toAdvance(DATE);
      expect(list.map((x) => x.warmup_campaign_id)).toEqual([...mine].sort());
      expect(list.find((x) => x.warmup_campaign_id === up.warmupCampaignId)).toEqual({
        warmup_campaign_id: up.warmupCampaignId,
        workspace_id: up.workspaceId,
        day_number: 3,
        current_daily_limit: 15,
        target_daily: 40,
        yesterday: { sent: 15, delivered: 15, bounced: 0, spam: 0, is_healthy: true },
      });
      expect(list.find((x) => x.warmup_campaign_id === hold.warmupCampaignId)?.yesterday).toBeNull();

      const steps = [
        { workspaceId: up.workspaceId, warmupCampaignId: up.warmupCampaignId, fromDay: 3, day: 4, cap: 20 },
        { workspaceId: hold.workspaceId, warmupCampaignId: hold.warmupCampaignId, fromDay: 3, day: 3, cap: 15 },
      ];
      expect(await w.store.stepDays([], DATE)).toEqual({ advanced: 0, held: 0 });
      expect(await w.store.stepDays(steps, DATE)).toEqual({ advanced: 1, held: 1 });
      expect(await w.store.stepDays(steps, DATE)).toEqual({ advanced: 0, held: 0 });
      expect(await toAdvance(DATE)).toEqual([]);
      expect(await w.ramp(up)).toEqual({ dayNumber: 4, currentDailyLimit: 20 });
      expect(await w.ramp(hold)).toEqual({ dayNumber: 3, currentDailyLimit: 15 });
      // the next date: a step from a day the warm-up is no longer on changes nothing
      expect(await w.store.stepDays([steps[0]!], '2026-12-06')).toEqual({ advanced: 0, held: 0 });
      expect(await w.store.stepDays([{ ...steps[0]!, fromDay: 4, day: 5, cap: 25 }], '2026-12-06')).toEqual({ advanced: 1, held: 0 });
      expect(await w.ramp(up)).toEqual({ dayNumber: 5, currentDailyLimit: 25 });
    });
  });
}
