import { startApolloEmulator } from './apollo-emulator.js';
import { startDnsEmulator } from './dns-emulator.js';
import { startHunterEmulator } from './hunter-emulator.js';

/**
 * The provider emulators as one dev process (`pnpm --filter @coldcopy/enrichment-worker emulators`):
 * Hunter, Apollo and a DNS server on 127.0.0.1, so a local worker enriches and verifies the demo
 * leads with no account. Ports and keys from env (defaults below); the worker is pointed at them
 * with HUNTER_BASE_URL, APOLLO_BASE_URL, DNS_SERVERS and the same keys.
 */
const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const hunterKey = env.HUNTER_API_KEY ?? 'dev-hunter-key';
const apolloKey = env.APOLLO_API_KEY ?? 'dev-apollo-key';

const hunter = await startHunterEmulator({ apiKey: hunterKey }, port('HUNTER_EMULATOR_PORT', 8610));
const apollo = await startApolloEmulator({ apiKey: apolloKey, perMinute: 1000, perHour: 20_000, perDay: 100_000 }, port('APOLLO_EMULATOR_PORT', 8611));
// the demo seed's domains get MX records; everything else is NXDOMAIN
const dns = await startDnsEmulator(
  { mx: Object.fromEntries((env.DNS_EMULATOR_DOMAINS ?? 'example.com,acme.com,globex.com,initech.com').split(',').map((d) => [d.trim(), [`mx.${d.trim()}`]])) },
  port('DNS_EMULATOR_PORT', 8653),
);
process.stdout.write(`enrichment emulators: HUNTER_BASE_URL=${hunter.url}/v2 APOLLO_BASE_URL=${apollo.url}/api/v1 DNS_SERVERS=${dns.server}\n`);
const stop = async () => {
  await Promise.all([hunter.close(), apollo.close(), dns.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
