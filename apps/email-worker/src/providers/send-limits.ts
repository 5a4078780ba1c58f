/**
 * The three sending limits (email-ses-sns.md §13), shared by every replica through Redis. Keys
 * carry the workspace id (domain.md §8 rule 4) except the SES account's, which is one per account.
 */
export interface SendLimits {
  /**
   * Waits for a slot of the recipient domain's throttle and then of the SES account's MaxSendRate.
   * Throws RetryAfterError(ms) instead of waiting longer than the configured in-handler wait.
   */
  acquireSendSlot(workspaceId: string, recipientDomain: string, signal: AbortSignal): Promise<void>;
  /** Counts one send against the mailbox's cap for the UTC day; false (nothing counted) when the cap is reached. */
  takeMailboxDaily(workspaceId: string, mailboxId: string, cap: number, day: string): Promise<boolean>;
  /** Gives back a count taken for a send that definitely did not happen. */
  releaseMailboxDaily(workspaceId: string, mailboxId: string, day: string): Promise<void>;
  /** Sends counted for the mailbox on a UTC day. */
  mailboxDailyCount(workspaceId: string, mailboxId: string, day: string): Promise<number>;
}
