import type { SendReputation } from '@coldcopy/db';
import type { SesEvent } from '../domain/ses-events.js';

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
}
