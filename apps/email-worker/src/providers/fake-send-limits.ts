import { RetryAfterError } from '@coldcopy/queue-core';
import type { SendLimits } from './send-limits.js';

/** In-memory limits for handler tests: daily counts per mailbox, and scripted rate-limit waits. */
export function createFakeSendLimits(options: { rateWaits?: number[] } = {}) {
  const counts = new Map<string, number>();
  const waits = [...(options.rateWaits ?? [])];
  const slots: Array<{ workspaceId: string; domain: string }> = [];
  const limits: SendLimits = {
    async acquireSendSlot(workspaceId, domain) {
      const wait = waits.shift();
      if (wait !== undefined && wait > 0) throw new RetryAfterError(wait);
      slots.push({ workspaceId, domain });
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
  return Object.assign(limits, { counts, slots });
}
