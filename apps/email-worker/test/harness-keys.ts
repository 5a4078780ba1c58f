/** Test-only job signing key (queue-core signs every job); worker processes get it as JOB_SIGNING_KEYS. */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
/** Test-only field encryption key: the reply's AI jobs carry its content encrypted (JOB_ENCRYPTION_KEYS). */
export const TEST_ENCRYPTION_KEYS = 'e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
