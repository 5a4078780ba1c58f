import { SendRawEmailCommand, type SESClient } from '@aws-sdk/client-ses';
import type { EmailSender, OutgoingEmail, SendOptions } from './email-sender.js';
import { composeMime } from './mime.js';
import { classifySesError } from './ses-errors.js';

/**
 * EmailSender on SES v1 SendRawEmail (we build the MIME, so List-Unsubscribe is ours). The client
 * must be created with `maxAttempts: 1` and a request timeout (deps.ts): retries belong to the
 * queue, and a resent request after a lost response would send the email twice.
 */
export function createSesEmailSender(client: SESClient, options: { throttleRetryMs?: number } = {}): EmailSender {
  return {
    async send(message: OutgoingEmail, signal: AbortSignal, sendOptions?: SendOptions) {
      const raw = await composeMime(message);
      const command = new SendRawEmailCommand({
        RawMessage: { Data: raw },
        Source: message.from.address,
        Destinations: [message.to],
        ConfigurationSetName: message.configurationSet,
        Tags: Object.entries(message.tags as unknown as Record<string, string>).map(([Name, Value]) => ({ Name, Value })),
      });
      const gate = sendOptions?.beforeRequest;
      let gateFailed = false;
      if (gate) {
        // innermost middleware: after serialising and signing, right before the HTTP handler
        command.middlewareStack.add(
          (next) => async (args) => {
            try {
              await gate();
            } catch (err) {
              gateFailed = true;
              throw err;
            }
            return next(args);
          },
          { step: 'deserialize', priority: 'low', name: 'coldcopyBeforeRequest' },
        );
      }
      try {
        const out = await client.send(command, { abortSignal: signal });
        if (!out.MessageId) throw Object.assign(new Error('SES answered without a MessageId'), { name: 'MissingMessageId' });
        return { messageId: out.MessageId };
      } catch (err) {
        if (gateFailed) throw err; // never left: not an SES outcome
        throw classifySesError(err, options.throttleRetryMs);
      }
    },
  };
}
