import { SendRawEmailCommand, SESClient, SESServiceException } from '@aws-sdk/client-ses';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { SendError } from './email-sender.js';
import { sampleEmail } from '../../test/fixtures/sample-email.js';
import { createSesEmailSender } from './ses-email-sender.js';

const sesMock = mockClient(SESClient);
afterEach(() => sesMock.reset());

describe('SES email sender', () => {
  it('sends raw MIME with the configuration set, the five tags and one destination', async () => {
    sesMock.on(SendRawEmailCommand).resolves({ MessageId: 'ses-1' });
    const sender = createSesEmailSender(new SESClient({ region: 'us-east-1', maxAttempts: 1 }));
    await expect(sender.send(sampleEmail, new AbortController().signal)).resolves.toEqual({ messageId: 'ses-1' });
    const input = sesMock.commandCalls(SendRawEmailCommand)[0]!.args[0].input;
    expect(input.ConfigurationSetName).toBe('mailbox-1');
    expect(input.Destinations).toEqual(['lead@recipient.example']);
    expect(input.Source).toBe('ada@sender.example');
    expect(input.Tags).toEqual(Object.entries(sampleEmail.tags).map(([Name, Value]) => ({ Name, Value })));
    expect(Buffer.from(input.RawMessage!.Data!).toString()).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  });

  it('maps SES errors to SendError kinds', async () => {
    sesMock
      .on(SendRawEmailCommand)
      .rejectsOnce(
        new SESServiceException({ name: 'Throttling', $fault: 'client', message: 'Maximum sending rate exceeded.', $metadata: { httpStatusCode: 400 } }),
      )
      .rejectsOnce(new SESServiceException({ name: 'MessageRejected', $fault: 'client', message: 'Email address is not verified.', $metadata: {} }));
    const sender = createSesEmailSender(new SESClient({ region: 'us-east-1', maxAttempts: 1 }));
    const first = await sender.send(sampleEmail, new AbortController().signal).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(SendError);
    expect((first as SendError).kind).toBe('throttled');
    const second = await sender.send(sampleEmail, new AbortController().signal).catch((e: unknown) => e);
    expect((second as SendError).kind).toBe('rejected');
  });
});
