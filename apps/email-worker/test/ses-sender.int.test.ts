import { type SESClient } from '@aws-sdk/client-ses';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSesClient } from '../src/deps.js';
import { createSesEmailSender } from '../src/providers/ses-email-sender.js';
import { sampleEmail } from './fixtures/sample-email.js';
import { startSesLocal, type SesLocal } from './ses-local.js';

let ses: SesLocal;
let client: SESClient;

beforeAll(async () => {
  ses = await startSesLocal();
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  client = createSesClient({ SES_REGION: 'us-east-1', SES_ENDPOINT: ses.endpoint, SES_TIMEOUT_MS: 5000 });
});
afterAll(async () => {
  client?.destroy();
  await ses?.close();
});
beforeEach(() => ses.clear());

describe('SES sender against aws-ses-v2-local (real SDK, SendRawEmail)', () => {
  it('delivers one email with subject, both parts, Reply-To and the RFC 8058 headers', async () => {
    const sender = createSesEmailSender(client);
    const { messageId } = await sender.send(sampleEmail, new AbortController().signal);
    expect(messageId).toBeTruthy();

    const emails = await ses.emails();
    expect(emails).toHaveLength(1);
    const [email] = emails;
    expect(email!.messageId).toBe(messageId);
    expect(email!.subject).toBe(sampleEmail.subject);
    expect(email!.destination.to).toEqual(['lead@recipient.example']);
    expect(email!.replyTo).toEqual(['replies@sender.example']);
    expect(email!.body.text?.trim()).toBe('Hello Charles');
    expect(email!.body.html).toContain('<p>Hello <b>Charles</b></p>');

    // the emulator does not keep headers: read them from the raw message it received
    const [raw] = ses.rawMessages();
    const headers = raw!.slice(0, raw!.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    expect(headers).toMatch(/^List-Unsubscribe: <https:\/\/app\.example\.com\/u\/tok\.en>, <mailto:unsub\+tok\.en@example\.com\?subject=unsubscribe>$/m);
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    // configuration set and tags went on the API call (the emulator accepts but does not store them)
    const form = ses.requests[0]!.form;
    expect(form.get('ConfigurationSetName')).toBe('mailbox-1');
    const tags = new Map<string, string>();
    for (let i = 1; form.has(`Tags.member.${i}.Name`); i++) tags.set(form.get(`Tags.member.${i}.Name`)!, form.get(`Tags.member.${i}.Value`)!);
    expect(Object.fromEntries(tags)).toEqual(sampleEmail.tags);
  });

  it('runs beforeRequest once, after composing and signing, before the request reaches SES; its error means nothing was sent', async () => {
    const sender = createSesEmailSender(client);
    const seenBySes: number[] = [];
    const { messageId } = await sender.send(sampleEmail, new AbortController().signal, {
      beforeRequest: async () => {
        seenBySes.push(ses.requests.length);
      },
    });
    expect(messageId).toBeTruthy();
    expect(seenBySes).toEqual([0]);
    expect(ses.requests).toHaveLength(1);

    const stop = new Error('no slot');
    const err = await sender
      .send(sampleEmail, new AbortController().signal, {
        beforeRequest: async () => {
          throw stop;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBe(stop); // unchanged, not classified as an SES outcome
    expect(ses.requests).toHaveLength(1);
    expect(await ses.emails()).toHaveLength(1);
  });
});
