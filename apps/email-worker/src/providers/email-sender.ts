/**
 * The port for sending one email (email-ses-sns.md §1, §2). Adapters translate vendor errors into
 * the classes below, so the send-email handler decides retries in one readable place.
 */

export interface MessageTags {
  /** = campaign_emails.id; reconciles an unknown outcome from the SES `Send` event */
  readonly send_id: string;
  readonly campaign_id: string;
  readonly lead_id: string;
  readonly workspace_id: string;
  readonly mailbox_id: string;
  /**
   * the claim token of the attempt that sent it (campaign_emails.attempt), set by send-email after
   * its claim: a Send event settles only that claim, never a later one of the same row
   */
  readonly claim?: string;
}

export interface OutgoingEmail {
  readonly from: { readonly address: string; readonly name?: string };
  readonly to: string;
  readonly replyTo?: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /** RFC 8058 one-click HTTPS URL and the mailto alternative */
  readonly unsubscribe: { readonly url: string; readonly mailto: string };
  /** SES configuration set of the sending mailbox (event publishing, per-mailbox kill switch) */
  readonly configurationSet?: string;
  readonly tags: MessageTags;
}

export interface SendOptions {
  /**
   * Runs once the request is composed and signed, immediately before it goes on the wire (the
   * send-email handler checks its rate slot here, so nothing slow sits between the check and the
   * provider counting the request). When it throws, nothing was sent: the sender rethrows that
   * error unchanged, never as a SendError.
   */
  readonly beforeRequest?: () => Promise<void>;
}

export interface EmailSender {
  /** Sends one message. Throws one of the SendError classes below on failure. */
  send(message: OutgoingEmail, signal: AbortSignal, options?: SendOptions): Promise<{ messageId: string }>;
}

/** What went wrong, and therefore what the handler does. */
export type SendFailureKind =
  /** SES per-second rate exceeded: not sent; retry in seconds without burning an attempt */
  | 'throttled'
  /** SES 24 h quota reached: not sent; reschedule after the quota window */
  | 'daily-quota'
  /** rejected for good (content, unverified sender, missing configuration set, bad parameter) */
  | 'rejected'
  /** the whole account cannot send: pause the email queue and alert */
  | 'account-paused'
  /** the mailbox's configuration set is paused: pause that mailbox */
  | 'mailbox-paused'
  /** the request never left (connection refused, DNS): not sent, plain retry */
  | 'not-sent'
  /** the request may have reached SES (timeout, 5xx, reset): never resend blindly */
  | 'unknown';

export class SendError extends Error {
  override name = 'SendError';
  constructor(
    readonly kind: SendFailureKind,
    message: string,
    /** provider error name, e.g. `Throttling`, `MessageRejected` */
    readonly code: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}

export function isSendError(err: unknown): err is SendError {
  return err instanceof SendError;
}
