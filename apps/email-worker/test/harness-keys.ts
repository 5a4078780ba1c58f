/** Test-only job signing key (queue-core signs every job); worker processes get it as JOB_SIGNING_KEYS. */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
/** Test-only field encryption key: the reply's AI jobs carry its content encrypted (JOB_ENCRYPTION_KEYS). */
export const TEST_ENCRYPTION_KEYS = 'e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

/** The email worker's variables every spawned test process gets (spawnWorkerApp of @coldcopy/testing); a test's own env wins. */
export const EMAIL_WORKER_TEST_ENV: Record<string, string> = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  UNSUBSCRIBE_BASE_URL: 'https://app.example.com/u',
  UNSUBSCRIBE_MAILTO_DOMAIN: 'example.com',
  UNSUBSCRIBE_SECRET: 's'.repeat(32),
  SNS_TOPIC_ARNS: 'arn:aws:sns:us-east-1:123456789012:ses-events',
  SEND_JITTER_MS: '0',
};
