import { startHubspotEmulator } from './hubspot-emulator.js';
import { startOAuthEmulator } from './oauth-emulator.js';

/**
 * The HubSpot emulator as a dev server (package.json `coldcopy.devServers.hubspot-emulator`):
 * the CRM API and its OAuth v3 token endpoint on one port (HUBSPOT_EMULATOR_PORT). A connection for
 * a dev workspace takes its tokens from `POST /__emulator/grant { "account": "<portal id>" }`.
 */
const env = process.env;
const oauth = await startOAuthEmulator({ clientId: env.HUBSPOT_CLIENT_ID ?? 'dev-hubspot-client', clientSecret: env.HUBSPOT_CLIENT_SECRET ?? 'dev-hubspot-secret' });
const hubspot = await startHubspotEmulator({ oauth }, Number(env.HUBSPOT_EMULATOR_PORT ?? 8620));
process.stdout.write(`hubspot emulator: HUBSPOT_BASE_URL=${hubspot.url} HUBSPOT_TOKEN_URL=${hubspot.url}/oauth/v3/token (grants: POST ${hubspot.url}/__emulator/grant)\n`);
const stop = async () => {
  await Promise.all([hubspot.close(), oauth.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
