/** Test-only job signing key (queue-core signs every job); worker processes get it as JOB_SIGNING_KEYS. */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
/** Test-only field encryption key: addresses and names in enrichment job data are encrypted (JOB_ENCRYPTION_KEYS). */
export const TEST_ENCRYPTION_KEYS = 'e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
export const HUNTER_KEY = 'hunter-test-key-0123456789';
export const APOLLO_KEY = 'apollo-test-key-0123456789';
