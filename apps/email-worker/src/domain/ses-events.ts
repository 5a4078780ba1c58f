/**
 * SES event records inside an SNS Notification's `Message` (email-ses-sns.md §7). Both forms:
 * configuration-set event publishing (`eventType`, with tags) and identity notifications
 * (`notificationType`, without tags). Parsed defensively: Open/Click lack `sourceArn`, Rendering
 * Failure and DeliveryDelay lack headers.
 */

export type SesEventType = 'Bounce' | 'Complaint' | 'Delivery' | 'Send' | 'Reject' | 'Open' | 'Click' | 'Rendering Failure' | 'DeliveryDelay' | 'Subscription';

const TYPES = new Set<string>(['Bounce', 'Complaint', 'Delivery', 'Send', 'Reject', 'Open', 'Click', 'Rendering Failure', 'DeliveryDelay', 'Subscription']);

export interface SesEvent {
  readonly type: SesEventType;
  /** SES message id of the send (`mail.messageId`) */
  readonly messageId: string;
  /** our tags (send_id, workspace_id, …), first value of each; empty for identity notifications */
  readonly tags: Readonly<Record<string, string>>;
  /** when the event happened (the detail's timestamp, else the mail's) */
  readonly occurredAt: Date;
  readonly destination: readonly string[];
  readonly bounce?: {
    readonly type: 'Permanent' | 'Transient' | 'Undetermined';
    readonly subType: string;
    readonly recipients: ReadonlyArray<{ email: string; status?: string; diagnosticCode?: string }>;
  };
  readonly complaint?: { readonly recipients: readonly string[]; readonly feedbackType?: string; readonly subType?: string | null };
  readonly delivery?: { readonly recipients: readonly string[]; readonly smtpResponse?: string };
  readonly open?: { readonly ipAddress?: string; readonly userAgent?: string };
  readonly click?: { readonly ipAddress?: string; readonly userAgent?: string; readonly link?: string };
  readonly reject?: { readonly reason?: string };
  readonly failure?: { readonly templateName?: string; readonly errorMessage?: string };
  readonly deliveryDelay?: { readonly delayType?: string; readonly recipients: readonly string[] };
  readonly subscription?: { readonly contactList?: string; readonly source?: string };
}

export class NotAnSesEventError extends Error {
  override name = 'NotAnSesEventError';
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const date = (...values: unknown[]): Date => {
  for (const v of values) {
    if (typeof v === 'string') {
      const d = new Date(v);
      if (!Number.isNaN(d.getTime())) return d;
    }
  }
  return new Date();
};
const addresses = (list: unknown, key = 'emailAddress'): string[] =>
  arr(list)
    .map((r) => (typeof r === 'string' ? r : str(obj(r)[key])))
    .filter((e): e is string => typeof e === 'string' && e.includes('@'))
    .map((e) => e.trim().toLowerCase());

/**
 * What an SNS Notification from SES carries: a sending event (configuration-set event publishing
 * or identity notification), or inbound mail (`notificationType: "Received"`, SES email receiving;
 * parsed by domain/inbound-mail.ts).
 */
export type SesNotification =
  { readonly kind: 'event'; readonly event: SesEvent } | { readonly kind: 'received'; readonly record: Readonly<Record<string, unknown>> };

/** Parses the `Message` string of an SNS Notification. Throws NotAnSesEventError for anything else. */
export function parseSesNotification(message: string): SesNotification {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    throw new NotAnSesEventError('Message is not JSON');
  }
  const m = obj(parsed);
  if (str(m.notificationType) === 'Received' && !('eventType' in m)) return { kind: 'received', record: m };
  return { kind: 'event', event: eventFrom(m) };
}

/** A sending event only; inbound mail (Received) is refused like anything else that is not one. */
export function parseSesEvent(message: string): SesEvent {
  const notification = parseSesNotification(message);
  if (notification.kind !== 'event') throw new NotAnSesEventError('a Received notification is inbound mail, not a sending event');
  return notification.event;
}

function eventFrom(m: Json): SesEvent {
  const type = str(m.eventType) ?? str(m.notificationType);
  if (!type || !TYPES.has(type)) throw new NotAnSesEventError(`not an SES event type: ${String(type)}`);
  const mail = obj(m.mail);
  const messageId = str(mail.messageId);
  if (!messageId) throw new NotAnSesEventError('SES event without mail.messageId');
  const tags: Record<string, string> = {};
  for (const [name, values] of Object.entries(obj(mail.tags))) {
    const first = arr(values)[0];
    if (typeof first === 'string') tags[name] = first;
  }
  const base = { type: type as SesEventType, messageId, tags, destination: addresses(mail.destination, '') };

  switch (type) {
    case 'Bounce': {
      const b = obj(m.bounce);
      const bounceType = str(b.bounceType);
      return {
        ...base,
        occurredAt: date(b.timestamp, mail.timestamp),
        bounce: {
          type: bounceType === 'Permanent' || bounceType === 'Transient' ? bounceType : 'Undetermined',
          subType: str(b.bounceSubType) ?? 'Undetermined',
          recipients: arr(b.bouncedRecipients).flatMap((r) => {
            const e = str(obj(r).emailAddress);
            return e ? [{ email: e.trim().toLowerCase(), status: str(obj(r).status), diagnosticCode: str(obj(r).diagnosticCode) }] : [];
          }),
        },
      };
    }
    case 'Complaint': {
      const c = obj(m.complaint);
      return {
        ...base,
        occurredAt: date(c.timestamp, mail.timestamp),
        complaint: { recipients: addresses(c.complainedRecipients), feedbackType: str(c.complaintFeedbackType), subType: str(c.complaintSubType) ?? null },
      };
    }
    case 'Delivery': {
      const d = obj(m.delivery);
      return {
        ...base,
        occurredAt: date(d.timestamp, mail.timestamp),
        delivery: { recipients: addresses(d.recipients, ''), smtpResponse: str(d.smtpResponse) },
      };
    }
    case 'Open': {
      const o = obj(m.open);
      return { ...base, occurredAt: date(o.timestamp, mail.timestamp), open: { ipAddress: str(o.ipAddress), userAgent: str(o.userAgent) } };
    }
    case 'Click': {
      const c = obj(m.click);
      return { ...base, occurredAt: date(c.timestamp, mail.timestamp), click: { ipAddress: str(c.ipAddress), userAgent: str(c.userAgent), link: str(c.link) } };
    }
    case 'Reject':
      return { ...base, occurredAt: date(mail.timestamp), reject: { reason: str(obj(m.reject).reason) } };
    case 'Rendering Failure': {
      const f = obj(m.failure);
      return { ...base, occurredAt: date(mail.timestamp), failure: { templateName: str(f.templateName), errorMessage: str(f.errorMessage) } };
    }
    case 'DeliveryDelay': {
      const d = obj(m.deliveryDelay);
      return {
        ...base,
        occurredAt: date(d.timestamp, mail.timestamp),
        deliveryDelay: { delayType: str(d.delayType), recipients: addresses(d.delayedRecipients) },
      };
    }
    case 'Subscription': {
      const s = obj(m.subscription);
      return { ...base, occurredAt: date(s.timestamp, mail.timestamp), subscription: { contactList: str(s.contactList), source: str(s.source) } };
    }
    default: // Send
      return { ...base, occurredAt: date(mail.timestamp) };
  }
}
