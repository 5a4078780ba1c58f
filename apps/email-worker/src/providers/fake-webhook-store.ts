import type { SendReputation } from '@coldcopy/db';
import type { SesEvent } from '../domain/ses-events.js';
import type { AppliedSesEvent, WebhookStore, WebhookTarget } from './webhook-store.js';

/** Records what process-webhook asked for; dedupes SNS MessageIds like the real table. */
export function createFakeWebhookStore(options: { target?: WebhookTarget | null; reputation?: SendReputation } = {}) {
  const seen = new Set<string>();
  const applied: Array<{ target: WebhookTarget; snsMessageId: string; event: SesEvent }> = [];
  const paused: string[] = [];
  let reputation: SendReputation = options.reputation ?? { sent: 0, bounced: 0, complained: 0 };
  const store: WebhookStore = {
    async findTarget() {
      return options.target === undefined ? null : options.target;
    },
    async applyEvent(target, snsMessageId, event): Promise<AppliedSesEvent> {
      if (seen.has(snsMessageId)) return { duplicate: true, changes: [] };
      seen.add(snsMessageId);
      applied.push({ target, snsMessageId, event });
      return { duplicate: false, changes: [event.type] };
    },
    async reputation() {
      return reputation;
    },
    async pauseMailbox(_ws, id) {
      if (paused.includes(`mailbox:${id}`)) return false;
      paused.push(`mailbox:${id}`);
      return true;
    },
    async pauseCampaign(_ws, id) {
      if (paused.includes(`campaign:${id}`)) return false;
      paused.push(`campaign:${id}`);
      return true;
    },
  };
  return Object.assign(store, {
    applied,
    paused,
    setReputation: (r: SendReputation) => {
      reputation = r;
    },
  });
}
