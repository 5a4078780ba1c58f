/** Test-only keys (vitest-free module, shared with worker processes and the bench). */
export const TEST_SIGNING_KEYS = 't1:3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=';
/** token keys: k1 current; TEST_ROTATED_TOKEN_KEYS adds k2 in front of it */
export const TEST_TOKEN_KEYS = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
export const TEST_ROTATED_TOKEN_KEYS = `k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,${TEST_TOKEN_KEYS}`;
export const CLIENT_ID = 'coldcopy-test-client';
export const CLIENT_SECRET = 'client-secret-0123456789';
