import { describe, expect, it } from 'vitest';
import { sample, signEnvelope, TEST_CERT_URL, testCertificateFetcher } from './testing.js';
import { SnsVerificationError, snsUrl, verifySnsMessage } from './sns.js';

const TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
const verify = (body: string, topicArns = [TOPIC]) => verifySnsMessage(body, { topicArns, fetchCertificate: testCertificateFetcher });

const ENVELOPES = [
  'ses-sns-envelope-notification-generic.json',
  'ses-sns-envelope-subscription-confirmation.json',
  'ses-sns-envelope-unsubscribe-confirmation.json',
];

describe('SNS signature verification', () => {
  it.each(
    ENVELOPES.flatMap(
      (f) =>
        [
          [f, '1'],
          [f, '2'],
        ] as const,
    ),
  )('accepts the AWS sample %s re-signed with SignatureVersion %s', async (file, version) => {
    const body = JSON.stringify(signEnvelope(sample(file), { version }));
    await expect(verify(body)).resolves.toMatchObject({ Type: sample(file).Type });
  });

  it('accepts the assembled SES bounce notification (no Subject)', async () => {
    const body = JSON.stringify(signEnvelope(sample('ses-sns-notification-bounce.ASSEMBLED.json')));
    const topic = sample('ses-sns-notification-bounce.ASSEMBLED.json').TopicArn as string;
    await expect(verify(body, [topic])).resolves.toMatchObject({ Type: 'Notification' });
  });

  it('rejects a tampered body', async () => {
    const signed = signEnvelope(sample('ses-sns-envelope-notification-generic.json'));
    await expect(verify(JSON.stringify({ ...signed, Message: 'Hello world?' }))).rejects.toThrow(/does not verify/);
    await expect(verify(JSON.stringify({ ...signed, Subject: 'other' }))).rejects.toThrow(SnsVerificationError);
    // dropping a signed field changes the string to sign
    const { Subject: _s, ...withoutSubject } = signed;
    await expect(verify(JSON.stringify(withoutSubject))).rejects.toThrow(/does not verify/);
  });

  it('rejects a topic that is not ours, even when validly signed', async () => {
    const body = JSON.stringify(signEnvelope({ ...sample('ses-sns-envelope-notification-generic.json'), TopicArn: 'arn:aws:sns:us-west-2:999999999999:Evil' }));
    await expect(verify(body)).rejects.toThrow(/unexpected TopicArn/);
  });

  it('rejects certificate URLs on other hosts, plain http, or odd paths, without fetching them', async () => {
    const fetched: string[] = [];
    const fetcher = async (url: URL) => {
      fetched.push(url.href);
      return testCertificateFetcher(url);
    };
    for (const certUrl of [
      'https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
      'https://evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
      'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
      'https://sns.us-east-1.amazonaws.com/other.pem',
    ]) {
      const body = JSON.stringify(signEnvelope(sample('ses-sns-envelope-notification-generic.json'), { certUrl }));
      await expect(verifySnsMessage(body, { topicArns: [TOPIC], fetchCertificate: fetcher })).rejects.toThrow(SnsVerificationError);
    }
    expect(fetched).toEqual([]);
  });

  it('rejects unknown signature versions and non-SNS bodies', async () => {
    const signed = signEnvelope(sample('ses-sns-envelope-notification-generic.json'));
    await expect(verify(JSON.stringify({ ...signed, SignatureVersion: '3' }))).rejects.toThrow(/SignatureVersion/);
    await expect(verify('not json')).rejects.toThrow(SnsVerificationError);
    await expect(verify('{"Type":"Other"}')).rejects.toThrow(SnsVerificationError);
  });

  it('validates SubscribeURL hosts like certificate hosts', () => {
    expect(snsUrl('https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=x', 'subscribe').hostname).toBe('sns.us-west-2.amazonaws.com');
    expect(() => snsUrl('https://169.254.169.254/latest/meta-data', 'subscribe')).toThrow(SnsVerificationError);
    expect(TEST_CERT_URL).toMatch(/^https:\/\/sns\./);
  });
});
