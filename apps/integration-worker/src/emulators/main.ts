import { startHubspotEmulator } from './hubspot-emulator.js';
import { startLinkedinEmulator } from './linkedin-emulator.js';
import { startOAuthEmulator } from './oauth-emulator.js';
import { startSalesforceEmulator } from './salesforce-emulator.js';

/**
 * The CRM emulators as one dev process (package.json `coldcopy.devServers`: `hubspot-emulator` on
 * HUBSPOT_EMULATOR_PORT, `salesforce-emulator` on SALESFORCE_EMULATOR_PORT, `linkedin-emulator` on
 * LINKEDIN_EMULATOR_PORT), each serving its API
 * and its OAuth token endpoint on one port. A dev connection takes its tokens from
 * `POST <emulator>/__emulator/grant { "account": "<portal or org id>" }`.
 */
const env = process.env;
const hubspotOAuth = await startOAuthEmulator({
  clientId: env.HUBSPOT_CLIENT_ID ?? 'dev-hubspot-client',
  clientSecret: env.HUBSPOT_CLIENT_SECRET ?? 'dev-hubspot-secret',
});
const salesforceOAuth = await startOAuthEmulator({
  clientId: env.SALESFORCE_CLIENT_ID ?? 'dev-salesforce-client',
  clientSecret: env.SALESFORCE_CLIENT_SECRET ?? 'dev-salesforce-secret',
  accessTtlSeconds: 7200,
});
const linkedinOAuth = await startOAuthEmulator({ clientId: 'dev-linkedin-client', clientSecret: 'dev-linkedin-secret', accessTtlSeconds: 60 * 86_400 });
const linkedin = await startLinkedinEmulator({ oauth: linkedinOAuth }, Number(env.LINKEDIN_EMULATOR_PORT ?? 8624));
const hubspot = await startHubspotEmulator({ oauth: hubspotOAuth }, Number(env.HUBSPOT_EMULATOR_PORT ?? 8620));
const salesforce = await startSalesforceEmulator({ oauth: salesforceOAuth }, Number(env.SALESFORCE_EMULATOR_PORT ?? 8621));
process.stdout.write(
  `crm emulators: HUBSPOT_BASE_URL=${hubspot.url} HUBSPOT_TOKEN_URL=${hubspot.url}/oauth/v3/token; SALESFORCE_TOKEN_URL=${salesforce.url}/services/oauth2/token (instance_url ${salesforce.url}); grants: POST /__emulator/grant; LINKEDIN_API_URL=${linkedin.url} (sign-ins: POST /__emulator/members)\n`,
);
const stop = async () => {
  await Promise.all([hubspot.close(), salesforce.close(), linkedin.close(), hubspotOAuth.close(), salesforceOAuth.close(), linkedinOAuth.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
