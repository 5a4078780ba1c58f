/** Test-only keys: job signing (queue-core signs every job) and field encryption (reply content on the ai queue). */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
export const TEST_ENCRYPTION_KEYS = 'e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
