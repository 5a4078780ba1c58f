import { SendRawEmailCommand, type SESClient } from '@aws-sdk/client-ses';
import type { EmailSender, OutgoingEmail } from './email-sender.js';
import { composeMime } from './mime.js';
import { classifySesError } from './ses-errors.js';

/**
 * EmailSender on SES v1 SendRawEmail (we build the MIME, so List-Unsubscribe is ours). The client
 * must be created with `maxAttempts: 1` and a request timeout (deps.ts): retries belong to the
 * queue, and a resent request after a lost response would send the email twice.
 */
export function createSesEmailSender(client: SESClient, options: { throttleRetryMs?: number } = {}): EmailSender {
  return {
    async send(message: OutgoingEmail, signal: AbortSignal) {
      const raw = await composeMime(message);
      try {
        const out = await client.send(
          new SendRawEmailCommand({
            RawMessage: { Data: raw },
            Source: message.from.address,
            Destinations: [message.to],
            ConfigurationSetName: message.configurationSet,
            Tags: Object.entries(message.tags).map(([Name, Value]) => ({ Name, Value })),
          }),
          { abortSignal: signal },
        );
        if (!out.MessageId) throw Object.assign(new Error('SES answered without a MessageId'), { name: 'MissingMessageId' });
        return { messageId: out.MessageId };
      } catch (err) {
        throw classifySesError(err, options.throttleRetryMs);
      }
    },
  };
}
