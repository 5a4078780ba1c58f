import { type AddressObject, type HeaderValue, type ParsedMail, simpleParser, type StructuredHeader } from 'mailparser';
import { NotAnSesEventError } from './ses-events.js';

/**
 * Inbound mail from SES email receiving: the SNS notification a receipt rule publishes
 * (`notificationType: "Received"`, AWS "Contents of notifications for Amazon SES email receiving"):
 *
 * - `receipt`: `recipients` (the envelope RCPT TO addresses the rule matched: the addresses of
 *   ours the message was delivered to), `spamVerdict`, `virusVerdict`, `spfVerdict`, `dkimVerdict`,
 *   `dmarcVerdict` (`{ status: PASS | FAIL | GRAY | PROCESSING_FAILED }`), `action { type, topicArn,
 *   encoding }`, `timestamp`;
 * - `mail`: `messageId` (SES's id of the received message), `source`, `destination`, `headers[]`,
 *   `commonHeaders`, `headersTruncated`;
 * - `content`: the raw MIME, present only for the SNS action, as UTF-8 text or BASE64 per the
 *   action's encoding (BASE64 keeps 8-bit parts in other charsets intact).
 *
 * The MIME is parsed by mailparser (nodemailer's sibling parser: RFC 2047/2231 words, charsets,
 * quoted-printable, multipart). Notifications of other actions (S3, Lambda, ...) carry no
 * `content`; their `mail.headers` are parsed the same way, so threading and auto-reply detection
 * still work, without a body.
 */

export type VerdictStatus = 'PASS' | 'FAIL' | 'GRAY' | 'PROCESSING_FAILED';

export interface InboundVerdicts {
  readonly spam?: string;
  readonly virus?: string;
  readonly spf?: string;
  readonly dkim?: string;
  readonly dmarc?: string;
}

export interface InboundAttachment {
  readonly filename: string | null;
  readonly contentType: string;
  readonly size: number;
}

export interface InboundMail {
  /** SES's id of the received message (`mail.messageId`) */
  readonly sesMessageId: string;
  readonly receivedAt: Date;
  /** our addresses it was delivered to (`receipt.recipients`), trimmed and lower-cased */
  readonly recipients: readonly string[];
  readonly verdicts: InboundVerdicts;
  /** spam or virus verdict FAIL: the message is stored but never treated as a reply */
  readonly quarantine: 'spam' | 'virus' | null;
  /** the Message-ID header, angle brackets included; `<{sesMessageId}@ses-inbound.invalid>` when it has none */
  readonly messageId: string;
  readonly inReplyTo: string | null;
  /** Message-IDs it answers, strongest first: In-Reply-To, then References from the newest */
  readonly threadRefs: readonly string[];
  /** the From address (trimmed, lower-cased), else the envelope sender */
  readonly from: string | null;
  readonly fromName: string | null;
  /** To and Cc addresses */
  readonly to: readonly string[];
  readonly subject: string | null;
  /** the Date header */
  readonly sentAt: Date | null;
  readonly text: string | null;
  readonly html: string | null;
  /** the headers kept with the stored message (KEPT_HEADERS), decoded */
  readonly headers: Readonly<Record<string, string | string[]>>;
  /** why it is an automatic reply (`Auto-Submitted: auto-replied`, ...), null for a person's mail */
  readonly autoReply: string | null;
  /** a delivery status notification (multipart/report; report-type=delivery-status) */
  readonly deliveryReport: boolean;
  readonly attachments: readonly InboundAttachment[];
  /** false for notifications without `content` (actions other than SNS): headers only */
  readonly hasContent: boolean;
}

/** What applying an inbound message means (classifyInbound). */
export type InboundKind = 'reply' | 'auto_reply' | 'bounce' | 'quarantined' | 'new';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const email = (v: string): string => v.trim().toLowerCase();

/** Headers stored with the message (email_messages.headers): threading, classification, display. */
const KEPT_HEADERS = [
  'from',
  'to',
  'cc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
  'auto-submitted',
  'x-autoreply',
  'x-autorespond',
  'precedence',
  'list-id',
];

/** RFC 3834 and the de-facto headers of vacation responders and ticket systems. */
export function autoReplyReason(header: (name: string) => readonly string[]): string | null {
  const token = (v: string) => v.split(';')[0]!.trim().toLowerCase();
  // Auto-Submitted: anything but "no" (auto-replied, auto-generated, auto-notified)
  const submitted = header('auto-submitted')
    .map(token)
    .find((v) => v !== '' && v !== 'no');
  if (submitted) return `Auto-Submitted: ${submitted}`;
  for (const name of ['x-autoreply', 'x-autorespond']) {
    const value = header(name)
      .map(token)
      .find((v) => v !== 'no' && v !== 'false');
    if (value !== undefined) return name === 'x-autoreply' ? 'X-Autoreply' : 'X-Autorespond';
  }
  // Precedence: bulk/junk/auto_reply never come from a person (RFC 3834 §2 tells responders to set them)
  const precedence = header('precedence')
    .map(token)
    .find((v) => v === 'auto_reply' || v === 'bulk' || v === 'junk');
  if (precedence) return `Precedence: ${precedence}`;
  return null;
}

/** `<a@b> <c@d>` (or a bare id) → ['<a@b>', '<c@d>'] */
export function parseMessageIds(value: string | readonly string[] | undefined): string[] {
  const values = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  const ids: string[] = [];
  for (const v of values) {
    const bracketed = v.match(/<[^<>\s]+>/g);
    if (bracketed) ids.push(...bracketed);
    else
      ids.push(
        ...v
          .split(/[\s,]+/)
          .filter((t) => t.includes('@'))
          .map((t) => `<${t}>`),
      );
  }
  return ids;
}

/**
 * The SES message id of one of our sends, from a Message-ID it references. SES replaces the
 * Message-ID of what we send with `<{MessageId}@email.amazonses.com>` (`@{region}.amazonses.com`
 * outside us-east-1); the ledger stores the bare MessageId the send call returned.
 */
export function sesMessageIdOf(ref: string): string | null {
  const m = /^<([^@<>\s]+)@([a-z0-9.-]+)>$/i.exec(ref.trim());
  if (!m) return null;
  const domain = m[2]!.toLowerCase();
  return domain === 'amazonses.com' || domain.endsWith('.amazonses.com') ? m[1]! : null;
}

/**
 * reply: a person answered one of our sends; auto_reply: an automatic answer to one (out of
 * office, ticket receipt); bounce: a delivery report; quarantined: SES's spam or virus verdict
 * failed; new: nothing of ours answered (stored only).
 */
export function classifyInbound(mail: Pick<InboundMail, 'quarantine' | 'deliveryReport' | 'autoReply'>, answersASend: boolean): InboundKind {
  if (mail.quarantine) return 'quarantined';
  if (mail.deliveryReport) return 'bounce';
  if (!answersASend) return 'new';
  return mail.autoReply ? 'auto_reply' : 'reply';
}

/** email_messages.metadata.email_type: what the message is, whatever was applied. */
export function emailType(mail: Pick<InboundMail, 'deliveryReport' | 'autoReply'>, answersASend: boolean): 'reply' | 'auto_reply' | 'bounce' | 'new' {
  if (mail.deliveryReport) return 'bounce';
  if (mail.autoReply) return 'auto_reply';
  return answersASend ? 'reply' : 'new';
}

/** Parses a Received notification (the record parseSesNotification returned). */
export async function parseInboundMail(record: Readonly<Record<string, unknown>>): Promise<InboundMail> {
  const receipt = obj(record.receipt);
  const mail = obj(record.mail);
  const sesMessageId = str(mail.messageId);
  if (!sesMessageId) throw new NotAnSesEventError('Received notification without mail.messageId');

  const action = obj(receipt.action);
  const content = str(record.content);
  // SNS action: the raw message, UTF-8 text or BASE64 ("Base64" in the rule, "BASE64" in the notification)
  const raw =
    content !== undefined
      ? /^base64$/i.test(str(action.encoding) ?? '')
        ? Buffer.from(content, 'base64')
        : Buffer.from(content, 'utf8')
      : Buffer.from(headerBlock(mail.headers), 'utf8');
  const parsed = await simpleParser(raw, {
    keepCidLinks: true, // no data: URLs of inline images in the stored HTML
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    checksumAlgo: false,
  });

  const header = (name: string): string[] => headerStrings(parsed.headers.get(name));
  const verdict = (key: string) => str(obj(receipt[key]).status)?.toUpperCase();
  const verdicts: InboundVerdicts = {
    spam: verdict('spamVerdict'),
    virus: verdict('virusVerdict'),
    spf: verdict('spfVerdict'),
    dkim: verdict('dkimVerdict'),
    dmarc: verdict('dmarcVerdict'),
  };
  const inReplyTo = parseMessageIds(parsed.inReplyTo)[0] ?? null;
  const references = parseMessageIds(parsed.references);
  const threadRefs = [...new Set([...(inReplyTo ? [inReplyTo] : []), ...references.reverse()])];
  const fromAddress = addressesOf(parsed.from)[0];
  const source = str(mail.source);
  const contentType = parsed.headers.get('content-type');
  const structured = isStructured(contentType) ? contentType : null;

  return {
    sesMessageId,
    receivedAt: validDate(str(receipt.timestamp), str(mail.timestamp)) ?? new Date(),
    recipients: [
      ...new Set(
        arr(receipt.recipients)
          .filter((r): r is string => typeof r === 'string' && r.includes('@'))
          .map(email),
      ),
    ],
    verdicts,
    quarantine: verdicts.virus === 'FAIL' ? 'virus' : verdicts.spam === 'FAIL' ? 'spam' : null,
    messageId: parseMessageIds(parsed.messageId)[0] ?? `<${sesMessageId}@ses-inbound.invalid>`,
    inReplyTo,
    threadRefs,
    from: fromAddress?.address ?? (source?.includes('@') ? email(source) : null),
    fromName: fromAddress?.name || null,
    to: [...new Set([...addressesOf(parsed.to), ...addressesOf(parsed.cc)].map((a) => a.address))],
    subject: parsed.subject ?? null,
    sentAt: parsed.headers.has('date') && parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : null,
    text: content !== undefined ? (parsed.text ?? null) : null,
    html: content !== undefined && typeof parsed.html === 'string' ? parsed.html : null,
    headers: keptHeaders(parsed),
    autoReply: autoReplyReason(header),
    deliveryReport: structured?.value.toLowerCase() === 'multipart/report' && (structured.params['report-type'] ?? '').toLowerCase() === 'delivery-status',
    attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? null, contentType: a.contentType, size: a.size })),
    hasContent: content !== undefined,
  };
}

function isStructured(v: HeaderValue | undefined): v is StructuredHeader {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) return false;
  const h = v as { value?: unknown; params?: unknown };
  return typeof h.value === 'string' && typeof h.params === 'object' && h.params !== null;
}

/** `mail.headers` ([{ name, value }], already unfolded) as a header block mailparser can read. */
function headerBlock(headers: unknown): string {
  const lines = arr(headers).flatMap((h) => {
    const name = str(obj(h).name);
    const value = str(obj(h).value);
    // a header name is printable ASCII without ':'; values must not smuggle in line breaks
    return name && /^[!-9;-~]+$/.test(name) && value !== undefined ? [`${name}: ${value.replace(/[\r\n]+/g, ' ')}`] : [];
  });
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function addressesOf(value: AddressObject | AddressObject[] | undefined): Array<{ address: string; name: string }> {
  const objects = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return objects
    .flatMap((o) => o.value.flatMap((a) => (a.group ? a.group : [a])))
    .filter((a): a is { address: string; name: string } => typeof a.address === 'string' && a.address.includes('@'))
    .map((a) => ({ address: email(a.address), name: a.name }));
}

function headerStrings(value: HeaderValue | undefined): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values.flatMap((v) => {
    if (typeof v === 'string') return [v];
    if (v instanceof Date) return [v.toISOString()];
    if ('text' in v && typeof v.text === 'string') return [v.text]; // address header
    if ('value' in v && typeof v.value === 'string') return [v.value]; // structured header
    return [];
  });
}

function keptHeaders(parsed: ParsedMail): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const name of KEPT_HEADERS) {
    const values = headerStrings(parsed.headers.get(name));
    if (values.length === 1) kept[name] = values[0]!;
    else if (values.length > 1) kept[name] = values;
  }
  return kept;
}

function validDate(...values: Array<string | undefined>): Date | null {
  for (const v of values) {
    if (v === undefined) continue;
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return null;
}
