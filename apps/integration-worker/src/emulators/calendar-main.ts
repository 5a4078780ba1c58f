import { startGoogleCalendarEmulator } from './google-calendar-emulator.js';
import { startGraphEmulator } from './graph-emulator.js';
import { startOAuthEmulator } from './oauth-emulator.js';

/**
 * The calendar emulators as one dev process (package.json `coldcopy.devServers`:
 * `google-calendar-emulator` on GOOGLE_CALENDAR_EMULATOR_PORT, `graph-emulator` on
 * GRAPH_EMULATOR_PORT), each serving its API and its OAuth token endpoint on one port (Google
 * `/token`, Microsoft `/common/oauth2/v2.0/token`). A dev calendar account takes its tokens from
 * `POST <emulator>/__emulator/grant { "account": "<email>" }`; events are added "in the provider"
 * with `POST <emulator>/__emulator/events`.
 */
const env = process.env;
const googleOAuth = await startOAuthEmulator({
  clientId: env.GOOGLE_CLIENT_ID ?? 'dev-google-client',
  clientSecret: env.GOOGLE_CLIENT_SECRET ?? 'dev-google-secret',
  accessTtlSeconds: 3600,
});
const microsoftOAuth = await startOAuthEmulator({
  clientId: env.MICROSOFT_CLIENT_ID ?? 'dev-microsoft-client',
  clientSecret: env.MICROSOFT_CLIENT_SECRET ?? 'dev-microsoft-secret',
  accessTtlSeconds: 3600,
  rotateRefreshTokens: true,
});
const google = await startGoogleCalendarEmulator({ oauth: googleOAuth }, Number(env.GOOGLE_CALENDAR_EMULATOR_PORT ?? 8622));
const graph = await startGraphEmulator({ oauth: microsoftOAuth }, Number(env.GRAPH_EMULATOR_PORT ?? 8623));
process.stdout.write(
  `calendar emulators: GOOGLE_CALENDAR_ROOT_URL=${google.url}/ GOOGLE_TOKEN_URL=${google.url}/token; MICROSOFT_GRAPH_URL=${graph.url} MICROSOFT_TOKEN_URL=${graph.url}/common/oauth2/v2.0/token; grants: POST /__emulator/grant\n`,
);
const stop = async () => {
  await Promise.all([google.close(), graph.close(), googleOAuth.close(), microsoftOAuth.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
