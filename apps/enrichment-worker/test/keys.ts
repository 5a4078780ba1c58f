/** The job keys spawnWorkerApp gives worker processes (signing; encryption: addresses and names in enrichment job data). */
export { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS } from '@coldcopy/testing';
export const HUNTER_KEY = 'hunter-test-key-0123456789';
export const APOLLO_KEY = 'apollo-test-key-0123456789';
