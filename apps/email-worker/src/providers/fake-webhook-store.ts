import { randomUUID } from 'node:crypto';
import type { SendReputation } from '@coldcopy/db';
import { classifyInbound, type InboundMail } from '../domain/inbound-mail.js';
import { type InboundInbox, type InboundRoute, resolveInboundRoutes, type WorkspaceEvidence } from '../domain/inbound-routing.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { ReplyToAnalyse } from './reply-analysis.js';
import type { AppliedInbound, AppliedSesEvent, WebhookStore, WebhookTarget } from './webhook-store.js';

/**
 * Records what process-webhook asked for; dedupes SNS MessageIds like the real table. Inbound
 * mail is routed over the given inboxes and per-workspace evidence with the real routing rules,
 * and deduped per workspace by SNS MessageId and Message-ID like the real tables. A stored genuine
 * reply is handed back in `replyToAnalyse` (also by its duplicates) until markReplyAnalysed.
 */
export function createFakeWebhookStore(
  options: {
    target?: WebhookTarget | null;
    reputation?: SendReputation;
    inboxes?: readonly InboundInbox[];
    evidence?: Readonly<Record<string, WorkspaceEvidence>>;
  } = {},
) {
  const seen = new Set<string>();
  const applied: Array<{ target: WebhookTarget; snsMessageId: string; event: SesEvent }> = [];
  const inbound: Array<{ route: InboundRoute; snsMessageId: string; mail: InboundMail; result: AppliedInbound }> = [];
  /** stored genuine replies by `${ws}/${Message-ID}`, and the email_messages ids marked analysed */
  const replies = new Map<string, ReplyToAnalyse>();
  const analysed = new Set<string>();
  const pending = (ws: string, messageId: string): ReplyToAnalyse | null => {
    const reply = replies.get(`${ws}/${messageId}`);
    return reply && !analysed.has(reply.emailMessageId) ? reply : null;
  };
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
    async routeInbound(mail) {
      const inboxes = (options.inboxes ?? []).filter((i) => mail.recipients.includes(i.address));
      return resolveInboundRoutes(mail.recipients, inboxes, new Map(Object.entries(options.evidence ?? {})));
    },
    async applyInbound(route, snsMessageId, mail): Promise<AppliedInbound> {
      const ws = route.workspaceId;
      const kind = classifyInbound(mail, route.reply !== null);
      const campaignEmailId = route.reply?.campaignEmailId ?? null;
      const keys = [`sns:${snsMessageId}/${ws}`, `msg:${ws}/${mail.messageId}`];
      if (keys.some((k) => seen.has(k))) {
        if (!seen.has(keys[0]!)) seen.add(keys[0]!);
        return { duplicate: true, workspaceId: ws, kind, emailMessageId: null, threadId: null, campaignEmailId, changes: [], replyToAnalyse: pending(ws, mail.messageId) };
      }
      for (const k of keys) seen.add(k);
      // uuids like the real ids: they go into the AI jobs' payloads
      const emailMessageId = randomUUID();
      const threadId = route.threadId ?? randomUUID();
      if (kind === 'reply' && route.reply) {
        replies.set(`${ws}/${mail.messageId}`, {
          workspaceId: ws,
          emailMessageId,
          threadId,
          leadId: route.reply.leadId,
          senderEmail: mail.from ?? '',
          senderName: mail.fromName,
          text: mail.text,
          receivedAt: mail.receivedAt,
        });
      }
      const result: AppliedInbound = {
        duplicate: false,
        workspaceId: ws,
        kind,
        emailMessageId,
        threadId,
        campaignEmailId,
        changes: ['stored', ...(kind === 'reply' || kind === 'auto_reply' ? ['event:replied'] : [])],
        replyToAnalyse: pending(ws, mail.messageId),
      };
      inbound.push({ route, snsMessageId, mail, result });
      return result;
    },
    async markReplyAnalysed(_ws, emailMessageId) {
      analysed.add(emailMessageId);
    },
  };
  return Object.assign(store, {
    applied,
    inbound,
    analysed,
    paused,
    setReputation: (r: SendReputation) => {
      reputation = r;
    },
  });
}
