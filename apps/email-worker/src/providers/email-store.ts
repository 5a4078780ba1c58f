import type {
  CampaignEmailRow,
  CampaignLeadRow,
  CampaignRow,
  CampaignStepRow,
  LeadRow,
  MailboxRow,
  SendClaimResult,
  WorkspaceEmailSettings,
} from '@coldcopy/db';

/**
 * What send-email reads and writes in Postgres, in the handler's terms. The adapter
 * (pg-email-store.ts) is a thin layer over @coldcopy/db's workspace-scoped functions; the fake
 * (fake-email-store.ts) keeps the same state machine in memory for handler tests. A send that goes
 * out costs three statements: loadSend, claimUnlessSuppressed, recordSent.
 */
export interface SendContext {
  readonly email: CampaignEmailRow;
  readonly campaign: CampaignRow;
  /** the step this row sends; null when the sequence no longer has it */
  readonly step: CampaignStepRow | null;
  /** the step after it; null when this is the last one */
  readonly nextStep: CampaignStepRow | null;
  readonly lead: LeadRow;
  readonly enrolment: CampaignLeadRow;
  /** the row's mailbox, else the campaign's first active one; null when none can send */
  readonly mailbox: MailboxRow | null;
  readonly sender: WorkspaceEmailSettings;
}

export interface SentRecord {
  readonly messageId: string;
  readonly sentAt: Date;
  /** when the lead's next step is due (aligned to the window); null completes the enrolment */
  readonly nextEmailAt: Date | null;
  readonly mailboxId: string;
  readonly fromEmail: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /**
   * The claim token of the attempt that sent (campaign_emails.attempt as the claim returned it):
   * written only while that claim holds the row (ClaimLostError otherwise)
   */
  readonly claim?: number;
}

/** What recordSent needs of the send: a SendContext, or a kept outcome's ids (outcome-journal.ts). */
export interface SentTarget {
  readonly email: Pick<SendContext['email'], 'id' | 'step_number'>;
  readonly enrolment: Pick<SendContext['enrolment'], 'id'>;
  readonly lead: Pick<SendContext['lead'], 'id'>;
}

export interface EmailStore {
  loadSend(workspaceId: string, campaignEmailId: string): Promise<SendContext>;
  hasMarketingConsent(workspaceId: string, leadId: string): Promise<boolean>;
  /**
   * Claim before send (scheduled|retryable → sending; exactly one concurrent caller wins), unless
   * `recipient` is suppressed (workspace or global) at that moment: the check and the claim are
   * one atomic step, right before the SES call. A suppressed recipient claims nothing.
   */
  claimUnlessSuppressed(workspaceId: string, campaignEmailId: string, recipient: string): Promise<SendClaimResult>;
  /**
   * gives a claim back before anything was sent (sending → scheduled at `until`); LedgerStateError
   * when the row is not `sending`. Fenced by `claim` (the claim token): then also from `unknown` or
   * `failed_unknown` that a lease expiry set meanwhile, and a ClaimLostError once another attempt
   * claimed the row. The same fence applies to recordSent, recordUnknown and recordFailed.
   */
  unclaim(workspaceId: string, campaignEmailId: string, until: Date, reason: string, claim?: number): Promise<void>;
  /** before the claim: move a claimable row to `until`; false when it is no longer claimable */
  reschedule(workspaceId: string, campaignEmailId: string, until: Date, reason: string): Promise<boolean>;
  /** the send must not happen; `endEnrolment` also ends the lead's enrolment as failed */
  cancel(workspaceId: string, campaignEmailId: string, reason: string, options?: { endEnrolmentId?: string }): Promise<void>;
  /** sending past the lease → unknown; false when the lease is still running or the row moved on */
  expireLease(workspaceId: string, campaignEmailId: string, leaseMs: number): Promise<boolean>;
  /** success, in one transaction: ledger `sent`, `sent` event, enrolment progress, lead contacted */
  recordSent(workspaceId: string, context: SentTarget, sent: SentRecord): Promise<void>;
  recordUnknown(workspaceId: string, campaignEmailId: string, error: string, claim?: number): Promise<void>;
  /** definite failure: retryable (not sent, may be claimed again) or failed (enrolment ends) */
  recordFailed(
    workspaceId: string,
    campaignEmailId: string,
    failure: { error: string; retryable: boolean; endEnrolmentId?: string; claim?: number },
  ): Promise<void>;
  pauseMailbox(workspaceId: string, mailboxId: string, reason: string): Promise<void>;
}
