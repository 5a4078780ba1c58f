/**
 * The DigitalOcean Apps API emulator as a dev server (package.json `coldcopy.devServers`): serves
 * one app, `DO_EMULATOR_APP_ID` (default `dev-app`), whose spec is the repository's app.yaml, on
 * `DO_EMULATOR_PORT` (default 4610), token `DO_EMULATOR_TOKEN` (default `dev-token`); deployments
 * take DO_EMULATOR_DEPLOYMENT_SECONDS (default 60).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import type { AppSpec } from '../do-apps.js';
import { DoAppsEmulator } from './do-apps-emulator.js';

const spec = YAML.parse(readFileSync(join(import.meta.dirname, '../../../../app.yaml'), 'utf8')) as AppSpec;
const emulator = new DoAppsEmulator({
  port: Number(process.env.DO_EMULATOR_PORT ?? 4610),
  token: process.env.DO_EMULATOR_TOKEN ?? 'dev-token',
  deploymentMs: Number(process.env.DO_EMULATOR_DEPLOYMENT_SECONDS ?? 60) * 1000,
  apps: [{ id: process.env.DO_EMULATOR_APP_ID ?? 'dev-app', spec }],
});
const url = await emulator.start();
console.log(`DigitalOcean Apps API emulator on ${url} (app ${process.env.DO_EMULATOR_APP_ID ?? 'dev-app'})`);
const stop = () => void emulator.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
