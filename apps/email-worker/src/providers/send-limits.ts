/**
 * The three sending limits (email-ses-sns.md §13), shared by every replica through Redis. Keys
 * carry the workspace id (domain.md §8 rule 4) except the SES account's, which is one per account.
 */

/** A granted send slot. */
export interface SendSlot {
  /** performance.now() of the earliest moment the SES account limiter may have meant it for */
  readonly dueAt: number;
}

export interface SendLimits {
  /**
   * Waits for a slot of the recipient domain's throttle and then reserves one of the SES account's
   * MaxSendRate, returning shortly before that slot (the claim and composing the request fit in
   * between; confirmSendSlot holds the request until the slot). Throws RetryAfterError(ms) instead
   * of waiting longer than the configured in-handler wait.
   */
  acquireSendSlot(workspaceId: string, recipientDomain: string, signal: AbortSignal): Promise<SendSlot>;
  /**
   * Call right before the SES request goes on the wire (the sender's `beforeRequest`, once the
   * request is composed and signed): waits until the slot, if it has not come yet. The account
   * limiter spaces its slots, but SES counts arrivals: the request must leave within the limiter's
   * slack of its slot, or requests held up together (a slow claim, a stalled event loop, a late
   * answer from Redis) arrive together and overrun a 1 s window. When more time has passed since
   * `slot`, this takes a fresh account slot (waiting, or RetryAfterError beyond the in-handler wait
   * or after repeated stalls); the stale one stays unused, so the limiter errs slow, never fast.
   * `atSlot` runs when a slot that is still fresh has come and before its age is judged again, so
   * its time counts in the age (the send-email handler writes its on-the-wire mark there); what it
   * throws is thrown. When it took too long (the slot went stale meanwhile), `withdraw` runs before
   * anything waits (for a fresh slot, or the RetryAfterError), and `atSlot` runs again at the next
   * fresh slot: nothing waits between an `atSlot` that stands and the return.
   */
  confirmSendSlot(slot: SendSlot, signal: AbortSignal, atSlot?: () => Promise<void>, withdraw?: () => Promise<void>): Promise<SendSlot>;
  /** Counts one send against the mailbox's cap for the UTC day; false (nothing counted) when the cap is reached. */
  takeMailboxDaily(workspaceId: string, mailboxId: string, cap: number, day: string): Promise<boolean>;
  /** Gives back a count taken for a send that definitely did not happen. */
  releaseMailboxDaily(workspaceId: string, mailboxId: string, day: string): Promise<void>;
  /** Sends counted for the mailbox on a UTC day. */
  mailboxDailyCount(workspaceId: string, mailboxId: string, day: string): Promise<number>;
}
