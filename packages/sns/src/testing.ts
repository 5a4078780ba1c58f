import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { stringToSign, type SnsEnvelope } from './sns.js';

/**
 * Test helpers (the `@coldcopy/sns/testing` subpath, for tests only). Signs SNS envelopes with a
 * test key (fixtures/sns-test-key.pem, self-signed certificate next to it), so the AWS samples, whose signatures are placeholders, verify through an injected
 * certificate fetcher.
 */
const KEY = readFileSync(new URL('../fixtures/sns-test-key.pem', import.meta.url), 'utf8');
export const TEST_CERT_PEM = readFileSync(new URL('../fixtures/sns-test-cert.pem', import.meta.url), 'utf8');
export const TEST_CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem';

/** AWS's SES/SNS example payloads, vendored with their attribution (fixtures/aws-samples/README.md). */
const SAMPLES = new URL('../fixtures/aws-samples/', import.meta.url);
export function sample(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(name, SAMPLES), 'utf8')) as Record<string, unknown>;
}

/** A fetcher that knows only the test certificate's URL. */
export const testCertificateFetcher = async (url: URL): Promise<string> => {
  if (url.href !== TEST_CERT_URL) throw new Error(`unexpected certificate URL ${url.href}`);
  return TEST_CERT_PEM;
};

export function signEnvelope(
  envelope: Record<string, unknown>,
  options: { version?: '1' | '2'; certUrl?: string } = {},
): SnsEnvelope & Record<string, unknown> {
  const version = options.version ?? '1';
  const unsigned = { ...envelope, SignatureVersion: version, SigningCertURL: options.certUrl ?? TEST_CERT_URL } as unknown as SnsEnvelope;
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(stringToSign(unsigned), 'utf8')
    .sign(KEY, 'base64');
  return { ...unsigned, Signature: signature };
}

/** The generic Notification envelope carrying an SES event (like the ASSEMBLED sample), signed. */
export function sesNotification(event: Record<string, unknown>, options: { topicArn: string; messageId?: string; version?: '1' | '2' }): string {
  const { Subject: _subject, ...envelope } = sample('ses-sns-envelope-notification-generic.json');
  return JSON.stringify(
    signEnvelope(
      { ...envelope, TopicArn: options.topicArn, Message: JSON.stringify(event), ...(options.messageId ? { MessageId: options.messageId } : {}) },
      { version: options.version },
    ),
  );
}

export { composeReply, receivedNotification, type ReceivedOptions, type ReplyOptions, sesHeaderId } from './testing-inbound.js';
