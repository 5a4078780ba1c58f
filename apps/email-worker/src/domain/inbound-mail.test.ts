import { describe, expect, it } from 'vitest';
import { sample as awsSample } from '@coldcopy/sns/testing';
import { composeReply, fixture, fixtureBytes, receivedNotification, sesHeaderId } from '../../test/inbound-notifications.js';
import { autoReplyReason, classifyInbound, parseInboundMail, parseMessageIds, sesMessageIdOf } from './inbound-mail.js';
import { NotAnSesEventError, parseSesEvent, parseSesNotification } from './ses-events.js';

/** What SNS delivers: the Message string, parsed by parseSesNotification first. */
async function parse(notification: Record<string, unknown>) {
  const n = parseSesNotification(JSON.stringify(notification));
  if (n.kind !== 'received') throw new Error(`expected a Received notification, got ${n.kind}`);
  return parseInboundMail(n.record);
}

describe('parseInboundMail (AWS examples)', () => {
  it('reads the SNS-action example: ids, recipients, verdicts, headers and the MIME body', async () => {
    const mail = await parse(awsSample('ses-received-sns-action.json'));
    expect(mail).toMatchObject({
      sesMessageId: 'd6iitobk75ur44p8kdnnp7g2n800',
      recipients: ['recipient@example.com'],
      verdicts: { spam: 'PASS', virus: 'PASS', spf: 'PASS', dkim: 'PASS' },
      quarantine: null,
      messageId: '<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>',
      inReplyTo: null,
      threadRefs: [],
      from: 'sender@example.com',
      to: ['recipient@example.com'],
      subject: 'Example subject',
      html: null,
      autoReply: null,
      deliveryReport: false,
      attachments: [],
      hasContent: true,
    });
    expect(mail.text?.trim()).toBe('Example content');
    expect(mail.receivedAt.toISOString()).toBe('2015-09-11T20:32:33.936Z');
    expect(mail.sentAt?.toISOString()).toBe('2015-09-11T20:32:32.000Z');
    expect(mail.headers).toMatchObject({ subject: 'Example subject', 'message-id': '<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>' });
    // only the kept headers are stored (no Received / DKIM-Signature chains)
    expect(Object.keys(mail.headers)).not.toContain('dkim-signature');
  });

  it('decodes BASE64 content (action.encoding) to the same message', async () => {
    const sample = awsSample('ses-received-sns-action.json') as Record<string, any>;
    const base64 = {
      ...sample,
      receipt: { ...sample.receipt, action: { ...sample.receipt.action, encoding: 'BASE64' } },
      content: Buffer.from(sample.content).toString('base64'),
    };
    const [a, b] = await Promise.all([parse(sample), parse(base64)]);
    expect(b).toEqual(a);
  });

  it('reads the headers of an alert notification (S3 action, no content): threading works, no body', async () => {
    const mail = await parse(fixture('ses-received-s3-action-alert.json'));
    expect(mail).toMatchObject({ hasContent: false, text: null, html: null, subject: 'Example subject', from: 'sender@example.com' });
    expect(mail.messageId).toBe('<61967230-7A45-4A9D-BEC9-87CBCF2211C9@example.com>');
  });

  it('a Received notification is inbound mail, not a sending event', () => {
    const message = JSON.stringify(awsSample('ses-received-sns-action.json'));
    expect(parseSesNotification(message).kind).toBe('received');
    expect(() => parseSesEvent(message)).toThrow(NotAnSesEventError);
  });

  it('refuses a Received notification without mail.messageId', async () => {
    const { mail: _m, ...rest } = awsSample('ses-received-sns-action.json');
    await expect(parse(rest)).rejects.toBeInstanceOf(NotAnSesEventError);
  });
});

describe('parseInboundMail (a reply)', () => {
  it('decodes RFC 2047 headers and quoted-printable UTF-8, and names the SES send it answers', async () => {
    const mail = await parse(receivedNotification(fixtureBytes('inbound-reply.eml'), { recipients: ['Sales@Acme.example'] }));
    expect(mail.recipients).toEqual(['sales@acme.example']);
    expect(mail.from).toBe('ada@lead.example');
    expect(mail.fromName).toBe('Ada Lövelace');
    expect(mail.subject).toBe('Re: Step 1: hello Ada – quick question');
    expect(mail.to).toEqual(['sales@acme.example', 'grace@lead.example']);
    expect(mail.text).toContain('Grüße, Ada');
    expect(mail.html).toContain('Thursday works');
    expect(mail.messageId).toBe('<CAF3x9kq2Zr1bN7h@mail.lead.example>');
    const ses = '<0100018c5f3a7b2e-1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d-000000@email.amazonses.com>';
    expect(mail.inReplyTo).toBe(ses);
    expect(mail.threadRefs).toEqual([ses]);
    expect(sesMessageIdOf(mail.threadRefs[0]!)).toBe('0100018c5f3a7b2e-1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d-000000');
    expect(mail.autoReply).toBeNull();
    expect(classifyInbound(mail, true)).toBe('reply');
  });

  it('orders thread references: In-Reply-To first, then References from the newest', async () => {
    const raw = await composeReply({
      from: 'lead@x.example',
      to: 'sales@acme.example',
      inReplyTo: '<third@x.example>',
      references: [sesHeaderId('ses-1'), '<second@x.example>', '<third@x.example>'],
    });
    const mail = await parse(receivedNotification(raw, { recipients: ['sales@acme.example'], encoding: 'BASE64' }));
    expect(mail.threadRefs).toEqual(['<third@x.example>', '<second@x.example>', '<ses-1@email.amazonses.com>']);
  });

  it('detects auto-replies by Auto-Submitted, X-Autoreply, X-Autorespond and Precedence', async () => {
    const cases: Array<[Record<string, string>, string | null]> = [
      [{ 'Auto-Submitted': 'auto-replied' }, 'Auto-Submitted: auto-replied'],
      [{ 'Auto-Submitted': 'auto-generated; type=vacation' }, 'Auto-Submitted: auto-generated'],
      [{ 'Auto-Submitted': 'no' }, null],
      [{ 'X-Autoreply': 'yes' }, 'X-Autoreply'],
      [{ 'X-Autorespond': 'Out of office' }, 'X-Autorespond'],
      [{ Precedence: 'auto_reply' }, 'Precedence: auto_reply'],
      [{ Precedence: 'bulk' }, 'Precedence: bulk'],
      [{ Precedence: 'list' }, null],
      [{}, null],
    ];
    for (const [headers, reason] of cases) {
      const raw = await composeReply({ from: 'lead@x.example', to: 'sales@acme.example', headers, inReplyTo: sesHeaderId('ses-1') });
      const mail = await parse(receivedNotification(raw, { recipients: ['sales@acme.example'] }));
      expect(mail.autoReply, JSON.stringify(headers)).toBe(reason);
      expect(classifyInbound(mail, true)).toBe(reason ? 'auto_reply' : 'reply');
    }
  });

  it('spam or virus FAIL quarantines; GRAY and PROCESSING_FAILED do not', async () => {
    const raw = await composeReply({ from: 'lead@x.example', to: 'sales@acme.example' });
    const verdict = async (spam: string, virus: string) =>
      (await parse(receivedNotification(raw, { recipients: ['sales@acme.example'], spam, virus }))).quarantine;
    expect(await verdict('FAIL', 'PASS')).toBe('spam');
    expect(await verdict('PASS', 'FAIL')).toBe('virus');
    expect(await verdict('GRAY', 'PROCESSING_FAILED')).toBeNull();
    const mail = await parse(receivedNotification(raw, { recipients: ['sales@acme.example'], spam: 'FAIL' }));
    expect(classifyInbound(mail, true)).toBe('quarantined');
  });

  it('recognises a delivery status notification', async () => {
    const raw = Buffer.from(
      [
        'From: Mail Delivery Subsystem <mailer-daemon@x.example>',
        'To: sales@acme.example',
        'Subject: Delivery Status Notification (Failure)',
        'Message-ID: <dsn-1@x.example>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        '',
        '--b',
        'Content-Type: text/plain',
        '',
        'Your message could not be delivered.',
        '--b',
        'Content-Type: message/delivery-status',
        '',
        'Reporting-MTA: dns; x.example',
        '',
        'Final-Recipient: rfc822; lead@x.example',
        'Action: failed',
        'Status: 5.1.1',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const mail = await parse(receivedNotification(raw, { recipients: ['sales@acme.example'] }));
    expect(mail.deliveryReport).toBe(true);
    expect(classifyInbound(mail, true)).toBe('bounce');
  });

  it('synthesises a Message-ID when the message has none', async () => {
    const raw = Buffer.from('From: lead@x.example\r\nTo: sales@acme.example\r\nSubject: hi\r\n\r\nhello\r\n');
    const mail = await parse(receivedNotification(raw, { recipients: ['sales@acme.example'], sesMessageId: 'abc123' }));
    expect(mail.messageId).toBe('<abc123@ses-inbound.invalid>');
  });
});

describe('message ids', () => {
  it('parses bracketed and bare ids', () => {
    expect(parseMessageIds('<a@x> <b@y>')).toEqual(['<a@x>', '<b@y>']);
    expect(parseMessageIds(['<a@x>', '<b@y>'])).toEqual(['<a@x>', '<b@y>']);
    expect(parseMessageIds('a@x')).toEqual(['<a@x>']);
    expect(parseMessageIds(undefined)).toEqual([]);
  });

  it('recognises SES Message-IDs of any region, nothing else', () => {
    expect(sesMessageIdOf('<0100018c-abc-000000@email.amazonses.com>')).toBe('0100018c-abc-000000');
    expect(sesMessageIdOf('<0102018c-abc-000000@eu-west-1.amazonses.com>')).toBe('0102018c-abc-000000');
    expect(sesMessageIdOf('<x@amazonses.com.attacker.example>')).toBeNull();
    expect(sesMessageIdOf('<x@mail.lead.example>')).toBeNull();
  });

  it('autoReplyReason reads every value of a repeated header', () => {
    const headers: Record<string, string[]> = { precedence: ['list', 'bulk'] };
    expect(autoReplyReason((name) => headers[name] ?? [])).toBe('Precedence: bulk');
  });
});
