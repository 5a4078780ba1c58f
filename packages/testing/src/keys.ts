/**
 * Test-only keys, never used outside tests: job signing (queue-core signs every job) and field
 * encryption (encrypted payload fields). spawnWorkerApp gives them to worker processes as
 * JOB_SIGNING_KEYS and JOB_ENCRYPTION_KEYS; WorkerAppHarness's producer signs with them.
 */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
export const TEST_ENCRYPTION_KEYS = 'e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
/** INTEGRATION_TOKEN_KEYS of worker processes that open sealed provider tokens (integration and AI workers) */
export const TEST_TOKEN_KEYS = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
