import { RetryAfterError } from '@coldcopy/queue-core';
import type { SendLimits } from './send-limits.js';

/**
 * In-memory limits for handler tests: daily counts per mailbox, and scripted rate-limit waits.
 * `staleSlots` scripts confirmSendSlot: `fresh` (the default), `renewed` (a new slot was taken) or a
 * number (the new slot is that many ms away: RetryAfterError).
 */
export function createFakeSendLimits(options: { rateWaits?: number[]; staleSlots?: Array<'fresh' | 'renewed' | number> } = {}) {
  const counts = new Map<string, number>();
  const waits = [...(options.rateWaits ?? [])];
  const stale = [...(options.staleSlots ?? [])];
  const slots: Array<{ workspaceId: string; domain: string }> = [];
  let renewals = 0;
  let confirmations = 0;
  const limits: SendLimits = {
    async acquireSendSlot(workspaceId, domain) {
      const wait = waits.shift();
      if (wait !== undefined && wait > 0) throw new RetryAfterError(wait);
      slots.push({ workspaceId, domain });
      return { dueAt: 0 };
    },
    async confirmSendSlot(slot, _signal, atSlot, withdraw) {
      confirmations += 1;
      for (;;) {
        await atSlot?.();
        const next = stale.shift() ?? 'fresh';
        if (next === 'fresh') return slot;
        // went stale while atSlot ran: withdrawn before the wait for a new slot (or the deferral)
        if (atSlot) await withdraw?.();
        if (typeof next === 'number') throw new RetryAfterError(next);
        renewals += 1;
        slot = { dueAt: 1 };
      }
    },
    async takeMailboxDaily(ws, mailboxId, cap, day) {
      const key = `${ws}:${mailboxId}:${day}`;
      const n = counts.get(key) ?? 0;
      if (n >= cap) return false;
      counts.set(key, n + 1);
      return true;
    },
    async releaseMailboxDaily(ws, mailboxId, day) {
      const key = `${ws}:${mailboxId}:${day}`;
      counts.set(key, Math.max(0, (counts.get(key) ?? 0) - 1));
    },
    async mailboxDailyCount(ws, mailboxId, day) {
      return counts.get(`${ws}:${mailboxId}:${day}`) ?? 0;
    },
  };
  return Object.defineProperties(Object.assign(limits, { counts, slots }), {
    renewals: { get: () => renewals },
    confirmations: { get: () => confirmations },
  }) as SendLimits & { counts: typeof counts; slots: typeof slots; readonly renewals: number; readonly confirmations: number };
}
