import { randomUUID } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { OutgoingEmail } from './email-sender.js';

/**
 * MIME for SendRawEmail, built by nodemailer's MailComposer (multipart/alternative, RFC 2047
 * headers, line folding, CR/LF stripped from header values). We chose MailComposer over mimetext:
 * it is the composer SES's own nodemailer transport uses, has types (@types/nodemailer), and
 * encodes non-ASCII headers and bodies without our help.
 *
 * SES replaces Message-ID and Date; correlation is by the returned MessageId and the send_id tag.
 * So the Message-ID is the send id (nodemailer's random one costs five randomBytes calls) and the
 * boundary base a random UUID (Node hands those out from a cached batch of entropy).
 */
export async function composeMime(message: OutgoingEmail): Promise<Buffer> {
  const composer = new MailComposer({
    from: message.from.name ? { name: message.from.name, address: message.from.address } : message.from.address,
    to: message.to,
    replyTo: message.replyTo,
    subject: message.subject,
    messageId: `<${message.tags.send_id}@${message.from.address.split('@').pop()}>`,
    baseBoundary: randomUUID().replaceAll('-', ''),
    text: message.text,
    html: message.html,
    headers: {
      // RFC 8058: HTTPS one-click first, mailto as the fallback; exactly one List-Unsubscribe.
      'List-Unsubscribe': `<${headerUrl(message.unsubscribe.url, 'https:')}>, <${headerUrl(message.unsubscribe.mailto, 'mailto:')}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
    },
  });
  return composer.compile().build();
}

/** A URL safe to put between angle brackets in a header: parsed, the right scheme, no CR/LF/<>. */
function headerUrl(value: string, protocol: 'https:' | 'mailto:'): string {
  const url = new URL(value);
  if (url.protocol !== protocol) throw new TypeError(`unsubscribe URL must use ${protocol}, got ${url.protocol}`);
  const text = url.toString();
  if (/[\r\n<>\s]/.test(text)) throw new TypeError('unsubscribe URL contains characters not allowed in a header');
  return text;
}
