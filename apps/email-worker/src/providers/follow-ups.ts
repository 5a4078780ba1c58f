import type { JobInput } from '@coldcopy/queue-core';
import type { sendEmail } from '@coldcopy/queue-core';

export type SendEmailInput = JobInput<typeof sendEmail>;

/**
 * Jobs the email worker enqueues for itself. A deferred send is a NEW delayed job with its own
 * deterministic id (attempt-neutral: it starts at attempt 1), never `moveToDelayed`.
 */
export interface FollowUps {
  /** one send-email job; `key` makes its id (enqueueing the same key again is a no-op) */
  sendEmailLater(payload: SendEmailInput, options: { delayMs: number; key: string }): Promise<void>;
  /** the campaign tick's fan-out; returns how many were enqueued (existing ids included) */
  sendEmails(items: ReadonlyArray<{ payload: SendEmailInput; key?: string; delayMs?: number }>): Promise<number>;
}

export function createFakeFollowUps() {
  const jobs: Array<{ payload: SendEmailInput; key: string; delayMs: number }> = [];
  const ids = new Set<string>();
  const followUps: FollowUps = {
    async sendEmailLater(payload, options) {
      if (ids.has(options.key)) return;
      ids.add(options.key);
      jobs.push({ payload, key: options.key, delayMs: options.delayMs });
    },
    async sendEmails(items) {
      for (const item of items) {
        const key = item.key ?? item.payload.campaignEmailId;
        if (ids.has(key)) continue;
        ids.add(key);
        jobs.push({ payload: item.payload, key, delayMs: item.delayMs ?? 0 });
      }
      return items.length;
    },
  };
  return Object.assign(followUps, { jobs });
}
