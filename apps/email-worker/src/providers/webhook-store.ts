import type { SendReputation } from '@coldcopy/db';
import type { InboundKind, InboundMail } from '../domain/inbound-mail.js';
import type { InboundRoute, InboundRouting } from '../domain/inbound-routing.js';
import type { SesEvent } from '../domain/ses-events.js';
import type { ReplyToAnalyse } from './reply-analysis.js';

/** The send an SES event is about, with the workspace it belongs to. */
export interface WebhookTarget {
  readonly workspaceId: string;
  readonly campaignEmailId: string;
  readonly campaignId: string;
  readonly mailboxId: string | null;
}

export interface AppliedSesEvent {
  /** the SNS MessageId was seen before: nothing was written */
  readonly duplicate: boolean;
  /** what changed, e.g. `delivery_status:bounced`, `suppressed:a@b.c`, `enrolment:bounced` */
  readonly changes: readonly string[];
}

/** One inbound message as stored in one workspace. */
export interface AppliedInbound {
  /** this SNS message (for this workspace) or this Message-ID was applied before: nothing was written */
  readonly duplicate: boolean;
  readonly workspaceId: string;
  readonly kind: InboundKind;
  /** email_messages.id and email_threads.id of the stored message (null for a duplicate) */
  readonly emailMessageId: string | null;
  readonly threadId: string | null;
  /** the send it answered */
  readonly campaignEmailId: string | null;
  /** e.g. `replied_at`, `lead:replied`, `engagement+30`, `enrolment:replied`, `cancelled:1` */
  readonly changes: readonly string[];
  /**
   * The stored genuine reply (a person's answer to one of our sends: not an auto-reply, delivery
   * report or quarantined mail) whose AI jobs were never confirmed enqueued
   * (markReplyAnalysed). Set for a reply just stored, and also for a duplicate when the stored
   * copy is still unconfirmed (the first run crashed, or its enqueue failed, after the commit).
   * Null otherwise. Carries the reply's text: never log it or return it from a job.
   */
  readonly replyToAnalyse: ReplyToAnalyse | null;
}

/**
 * What process-webhook reads and writes. `applyEvent` runs in one transaction together with the
 * SNS MessageId dedupe row, so a crash in the middle leaves no half-applied event and the retry
 * applies it in full.
 */
export interface WebhookStore {
  /**
   * By our tags (`send_id` + `workspace_id`, checked against each other) when present, else by the
   * SES message id. Null when no send matches (yet).
   */
  findTarget(event: SesEvent): Promise<WebhookTarget | null>;
  applyEvent(target: WebhookTarget, snsMessageId: string, event: SesEvent): Promise<AppliedSesEvent>;
  reputation(workspaceId: string, of: { mailboxId: string } | { campaignId: string }, since: Date): Promise<SendReputation>;
  /** true when it was not paused before */
  pauseMailbox(workspaceId: string, mailboxId: string, reason: string): Promise<boolean>;
  pauseCampaign(workspaceId: string, campaignId: string, reason: string): Promise<boolean>;
  /**
   * Inbound mail: the workspaces owning its recipient addresses (mailboxes, reply-to addresses)
   * and, inside each of them only, the send it answers (domain/inbound-routing.ts decides).
   */
  routeInbound(mail: InboundMail): Promise<InboundRouting>;
  /**
   * Stores the message in the route's workspace (thread + email_messages) and applies a reply:
   * ledger replied_at, `replied` event, lead status and engagement, enrolment and follow-ups per
   * the campaign's stop_on_reply. One transaction with the dedupe of the SNS MessageId (per
   * workspace) and of the Message-ID (unique per workspace).
   */
  applyInbound(route: InboundRoute, snsMessageId: string, mail: InboundMail): Promise<AppliedInbound>;
  /**
   * Records on the stored reply (email_messages.metadata.ai_jobs_enqueued_at) that its AI jobs
   * were handed to the queue, so a later duplicate of the message no longer returns it in
   * `replyToAnalyse`. Idempotent.
   */
  markReplyAnalysed(workspaceId: string, emailMessageId: string): Promise<void>;
}
