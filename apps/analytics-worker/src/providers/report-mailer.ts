import { SendEmailCommand, type SESClient } from '@aws-sdk/client-ses';

/** Sends a finished report's link: generate-report's second step (its failure keeps the PDF). */
export interface ReportMailer {
  send(message: ReportEmail, signal: AbortSignal): Promise<{ messageId: string }>;
}

export interface ReportEmail {
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
}

/** ReportMailer on SES SendEmail (a plain notification, not a campaign send: no ledger). */
export function createSesReportMailer(client: SESClient, from: string): ReportMailer {
  return {
    async send(message, signal) {
      const out = await client.send(
        new SendEmailCommand({
          Source: from,
          Destination: { ToAddresses: [...message.to] },
          Message: { Subject: { Data: message.subject, Charset: 'UTF-8' }, Body: { Text: { Data: message.text, Charset: 'UTF-8' } } },
        }),
        { abortSignal: signal },
      );
      return { messageId: out.MessageId ?? '' };
    },
  };
}

/** A ReportMailer with memory; `failures` are thrown by the next sends. */
export function createFakeReportMailer(failures: Error[] = []) {
  const sent: ReportEmail[] = [];
  const mailer: ReportMailer = {
    async send(message) {
      const failure = failures.shift();
      if (failure) throw failure;
      sent.push(message);
      return { messageId: `fake-${sent.length}` };
    },
  };
  return Object.assign(mailer, { sent });
}
