import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import MailComposer from 'nodemailer/lib/mail-composer';

/**
 * SES email-receiving notifications for tests (part of `@coldcopy/sns/testing`), built from AWS's
 * documented SNS-action example (fixtures/aws-samples/ses-received-sns-action.json): `content`
 * replaced with a message composed by nodemailer's MailComposer (the composer the email worker
 * sends with), recipients, verdicts and encoding set per test, timestamps recent (email_events
 * keeps only recent partitions). Used by the email worker's tests and by the end-to-end test of an
 * inbound reply through the dev stack (test/inbound-reply-ai.int.test.ts).
 */

/** The SES Message-ID header of one of our sends, as the lead's mail client quotes it. */
export const sesHeaderId = (sesMessageId: string, region = 'us-east-1') => `<${sesMessageId}@${region === 'us-east-1' ? 'email' : region}.amazonses.com>`;

export interface ReplyOptions {
  from: string;
  to: string | string[];
  cc?: string;
  subject?: string;
  text?: string;
  html?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: Record<string, string>;
}

/** A reply as a mail client would send it (multipart/alternative when html is given). */
export async function composeReply(o: ReplyOptions): Promise<Buffer> {
  return new MailComposer({
    from: o.from,
    to: o.to,
    cc: o.cc,
    subject: o.subject ?? 'Re: Step 1: hello Lead',
    text: o.text ?? 'Sounds good, let us talk on Thursday.\n\n> Hi Lead,\n> A short note.',
    html: o.html,
    messageId: o.messageId ?? `<${randomBytes(8).toString('hex')}@mail.lead.example>`,
    inReplyTo: o.inReplyTo,
    references: o.references,
    headers: o.headers,
  })
    .compile()
    .build();
}

export interface ReceivedOptions {
  recipients: string[];
  encoding?: 'UTF8' | 'BASE64';
  spam?: string;
  virus?: string;
  /** SES's id of the received message; random by default */
  sesMessageId?: string;
  /** drop `content` (a notification of an action other than SNS) */
  withoutContent?: boolean;
}

/** The parts of the AWS example a test changes. */
interface ReceivedSample {
  receipt: Record<string, unknown> & { action: Record<string, unknown> };
  mail: Record<string, unknown>;
  content?: string;
  [key: string]: unknown;
}

/** A Received notification (the SNS `Message`, parsed) carrying `raw`. */
export function receivedNotification(raw: Buffer, o: ReceivedOptions): Record<string, unknown> {
  const n = JSON.parse(readFileSync(new URL('../fixtures/aws-samples/ses-received-sns-action.json', import.meta.url), 'utf8')) as ReceivedSample;
  const now = new Date().toISOString();
  const head = raw
    .toString('utf8')
    .split(/\r?\n\r?\n/)[0]!
    .replace(/\r?\n[ \t]+/g, ' ');
  const headers = head.split(/\r?\n/).flatMap((line) => {
    const i = line.indexOf(':');
    return i > 0 ? [{ name: line.slice(0, i), value: line.slice(i + 1).trim() }] : [];
  });
  const encoding = o.encoding ?? 'UTF8';
  n.receipt = {
    ...n.receipt,
    timestamp: now,
    recipients: o.recipients,
    spamVerdict: { status: o.spam ?? 'PASS' },
    virusVerdict: { status: o.virus ?? 'PASS' },
    action: { ...n.receipt.action, encoding },
  };
  n.mail = { ...n.mail, timestamp: now, messageId: o.sesMessageId ?? randomBytes(16).toString('hex'), destination: o.recipients, headers };
  if (o.withoutContent) delete n.content;
  else n.content = encoding === 'BASE64' ? raw.toString('base64') : raw.toString('utf8');
  return n;
}
