import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testCertificateFetcher } from '@coldcopy/sns/testing';
import { createSesWebhookHandler } from '@coldcopy/web';
import { startSesSimulator } from './ses-simulator.js';
import { serveWebHandlers } from './web-server.js';

/**
 * The SES event simulator as a dev server (`coldcopy.devServers` of this app, started by
 * `npm run dev`): SES on SES_SIMULATOR_PORT in front of the stack's aws-ses-v2-local (the built-in
 * dev service `ses`, port DEV_SES_PORT or 8005; SES_SIMULATOR_UPSTREAM names another, `embedded`
 * starts one in this process, as `pnpm --filter @coldcopy/email-worker ses-simulator` does), and
 * the SNS webhook route on SNS_WEBHOOK_PORT (`POST /sns`: @coldcopy/web's createSesWebhookHandler,
 * trusting the simulator's test certificate), which enqueues `process-webhook` like the web app
 * does. The simulator posts every accepted message's events there, unless SES_SIMULATOR_WEBHOOK_URL
 * names another route (a web app of your own). The route reaches Redis through REDIS_URL,
 * BULL_PREFIX and JOB_SIGNING_KEYS, taken from the environment or, when unset, from the running
 * dev stack's `.data/dev.env` (written by scripts/dev.ts once Redis is up, before the apps start).
 */
const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] || fallback);
const topicArn = env.SES_SIMULATOR_TOPIC_ARN || 'arn:aws:sns:us-east-1:000000000000:ses-events-dev';

/** `KEY='value'` lines as scripts/dev.ts writes them. */
function devStackEnv(): Record<string, string> {
  const dataDir = env.DEV_DATA_DIR ? resolve(env.DEV_DATA_DIR) : fileURLToPath(new URL('../../../../.data', import.meta.url));
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'dev.env'), 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.startsWith("'") && m[2]!.endsWith("'") ? m[2]!.slice(1, -1).replace(/'\\''/g, "'") : m[2]!;
  }
  return out;
}

const route = createSesWebhookHandler({ topicArns: [topicArn], fetchCertificate: testCertificateFetcher });
const webhook = await serveWebHandlers(
  {
    async '/sns'(request) {
      if (!env.REDIS_URL) {
        for (const [k, v] of Object.entries(devStackEnv())) if (['REDIS_URL', 'BULL_PREFIX', 'JOB_SIGNING_KEYS'].includes(k)) env[k] ??= v;
        if (!env.REDIS_URL) return new Response('REDIS_URL is not set and no running dev stack wrote .data/dev.env', { status: 503 });
      }
      return route(request);
    },
    async '/health'() {
      return new Response('ok');
    },
  },
  { port: port('SNS_WEBHOOK_PORT', 8007) },
);
const upstream = env.SES_SIMULATOR_UPSTREAM || `http://127.0.0.1:${env.DEV_SES_PORT || 8005}`;
const simulator = await startSesSimulator({
  ...(upstream === 'embedded' ? {} : { upstream }),
  webhookUrl: env.SES_SIMULATOR_WEBHOOK_URL || `${webhook.url}/sns`,
  topicArn,
  eventGapMs: port('SES_SIMULATOR_EVENT_GAP_MS', 500),
  port: port('SES_SIMULATOR_PORT', 8006),
  onGiveUp: (e) => process.stderr.write(`ses-simulator: gave up posting ${e.type} of ${e.messageId}: ${e.error}\n`),
});
process.stdout.write(
  `ses-simulator: SES_ENDPOINT=${simulator.url} (aws-ses-v2-local ${simulator.upstream}), events of topic ${topicArn} to ${env.SES_SIMULATOR_WEBHOOK_URL || `${webhook.url}/sns`}\n`,
);

const stop = async () => {
  await Promise.all([simulator.close(), webhook.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
