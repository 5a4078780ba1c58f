import { randomUUID } from 'node:crypto';
import { type SendReputation, TenancyError } from '@coldcopy/db';
import { classifyInbound, type InboundMail, sesMessageIdOf } from '../domain/inbound-mail.js';
import { type InboundInbox, type InboundRoute, type ReplyMatch, resolveInboundRoutes, type WorkspaceEvidence } from '../domain/inbound-routing.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { ReplyToAnalyse } from './reply-analysis.js';
import type { SentSend } from './webhook-store.contract.js';
import type { AppliedInbound, AppliedSesEvent, WebhookStore, WebhookTarget } from './webhook-store.js';

const DELIVERY_RANK = { delivered: 1, bounced: 2, complained: 3 } as const;
const ENGAGEMENT = { open: 10, click: 20 } as const;

/**
 * Records what process-webhook asked for; dedupes SNS MessageIds like the real table, and applies
 * SES events with the Postgres adapter's effects as `changes` (delivery status only moving up,
 * suppressions, the enrolment ended once, engagement). Targets are the registered sends (by tags,
 * a send_id of another workspace refused, else by SES message id) unless `target` scripts one.
 * Inbound mail is routed with the real routing rules over the given inboxes and the registered
 * sends' mailboxes; the evidence is the given one, else what the registered sends show (In-Reply-To
 * or References naming a send's SES message id, else the latest send to the sender). Inbound mail
 * is deduped per workspace by SNS MessageId and Message-ID like the real tables, and a stored
 * genuine reply is handed back in `replyToAnalyse` (also by its duplicates) until
 * markReplyAnalysed. `reputation` is what the test sets (setReputation).
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
  const sends = new Map<string, SentSend>();
  /** per send: delivery status rank and whether its enrolment is still open */
  const sendState = new Map<string, { rank: number; enrolmentOpen: boolean }>();
  const stateOf = (id: string) => {
    let state = sendState.get(id);
    if (!state) sendState.set(id, (state = { rank: 0, enrolmentOpen: true }));
    return state;
  };
  const match = (send: SentSend, via: ReplyMatch['via']): ReplyMatch => ({
    campaignEmailId: send.campaignEmailId,
    campaignId: send.campaignId,
    leadId: send.leadId,
    mailboxId: send.mailboxId,
    via,
  });
  const evidenceOf = (ws: string, mail: InboundMail, inboxes: readonly InboundInbox[]): WorkspaceEvidence => {
    const given = options.evidence?.[ws];
    if (given) return given;
    const own = [...sends.values()].filter((s) => s.workspaceId === ws);
    let threaded: WorkspaceEvidence['threaded'] = null;
    for (const ref of mail.threadRefs) {
      const send = own.find((s) => s.sesMessageId === sesMessageIdOf(ref));
      if (send) {
        threaded = { threadId: null, reply: match(send, 'message-id'), leadId: send.leadId };
        break;
      }
    }
    const leadId = (mail.from && own.find((s) => s.leadEmail === mail.from)?.leadId) || null;
    const mine = inboxes.filter((i) => i.workspaceId === ws);
    const mailboxIds = mine.some((i) => i.mailboxId === null) ? null : mine.map((i) => i.mailboxId);
    const latest = own.filter((s) => s.leadId === leadId && (mailboxIds === null || mailboxIds.includes(s.mailboxId))).at(-1);
    return { threaded, bySender: latest ? match(latest, 'sender') : null, leadId };
  };
  let reputation: SendReputation = options.reputation ?? { sent: 0, bounced: 0, complained: 0 };
  const store: WebhookStore = {
    async findTarget(event) {
      if (options.target !== undefined) return options.target;
      const { send_id: sendId, workspace_id: ws } = event.tags;
      let send = sendId && ws ? sends.get(sendId) : undefined;
      if (send && send.workspaceId !== ws) throw new TenancyError('campaign_emails', send.campaignEmailId, ws!);
      send ??= [...sends.values()].find((s) => s.sesMessageId === event.messageId);
      return send ? { workspaceId: send.workspaceId, campaignEmailId: send.campaignEmailId, campaignId: send.campaignId, mailboxId: send.mailboxId } : null;
    },
    async applyEvent(target, snsMessageId, event): Promise<AppliedSesEvent> {
      if (seen.has(snsMessageId)) return { duplicate: true, changes: [] };
      seen.add(snsMessageId);
      applied.push({ target, snsMessageId, event });
      const state = stateOf(target.campaignEmailId);
      const changes: string[] = [];
      const raise = (status: keyof typeof DELIVERY_RANK) => {
        if (DELIVERY_RANK[status] <= state.rank) return;
        state.rank = DELIVERY_RANK[status];
        changes.push(`delivery_status:${status}`);
      };
      const suppress = (emails: readonly string[]) => changes.push(...[...new Set(emails)].map((e) => `suppressed:${e}`));
      const end = (outcome: 'bounced' | 'unsubscribed') => {
        if (!state.enrolmentOpen) return;
        state.enrolmentOpen = false;
        changes.push(`enrolment:${outcome}`);
      };
      switch (event.type) {
        case 'Delivery':
          raise('delivered');
          break;
        case 'Bounce':
          if (event.bounce?.type === 'Permanent') {
            raise('bounced');
            suppress(event.bounce.recipients.map((r) => r.email));
            end('bounced');
          }
          break;
        case 'Complaint':
          raise('complained');
          if (event.complaint?.feedbackType !== 'not-spam') {
            suppress(event.complaint?.recipients ?? []);
            end('unsubscribed');
          }
          break;
        case 'Open':
          changes.push('opened', `engagement+${ENGAGEMENT.open}`);
          break;
        case 'Click':
          changes.push('clicked', `engagement+${ENGAGEMENT.click}`);
          break;
        case 'Reject':
          changes.push('rejected');
          break;
        case 'Subscription':
          suppress(event.destination);
          end('unsubscribed');
          break;
        default:
          // Send (the fake's sends are already sent), Rendering Failure, DeliveryDelay: no change
          break;
      }
      return { duplicate: false, changes };
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
      const known = [
        ...(options.inboxes ?? []),
        ...[...sends.values()].map((s) => ({ workspaceId: s.workspaceId, address: s.mailboxAddress, mailboxId: s.mailboxId })),
      ];
      const inboxes = known.filter(
        (i, n) => mail.recipients.includes(i.address) && known.findIndex((j) => j.workspaceId === i.workspaceId && j.address === i.address) === n,
      );
      const evidence = new Map([...new Set(inboxes.map((i) => i.workspaceId))].map((ws) => [ws, evidenceOf(ws, mail, inboxes)]));
      return resolveInboundRoutes(mail.recipients, inboxes, evidence);
    },
    async applyInbound(route, snsMessageId, mail): Promise<AppliedInbound> {
      const ws = route.workspaceId;
      const kind = classifyInbound(mail, route.reply !== null);
      const campaignEmailId = route.reply?.campaignEmailId ?? null;
      const keys = [`sns:${snsMessageId}/${ws}`, `msg:${ws}/${mail.messageId}`];
      if (keys.some((k) => seen.has(k))) {
        if (!seen.has(keys[0]!)) seen.add(keys[0]!);
        return {
          duplicate: true,
          workspaceId: ws,
          kind,
          emailMessageId: null,
          threadId: null,
          campaignEmailId,
          changes: [],
          replyToAnalyse: pending(ws, mail.messageId),
        };
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
  /** A send that went out: findTarget, applyEvent and inbound routing know it from now on. */
  function registerSend(send: SentSend): void {
    sends.set(send.campaignEmailId, send);
  }

  return Object.assign(store, {
    registerSend,
    applied,
    inbound,
    analysed,
    paused,
    setReputation: (r: SendReputation) => {
      reputation = r;
    },
  });
}
