/**
 * The autoscaler: every `intervalSeconds`, one scaler pass (scaler.ts) for the App Platform app
 * DO_APP_ID. Several replicas may run; one holds the lease and acts, the others wait for it.
 *
 *   node dist/main.js                    scale
 *   node dist/main.js --dry-run          decide and print, never update (SCALER_DRY_RUN=true too)
 *   node dist/main.js --dry-run --once   one pass, print the decisions, exit
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ConfigError } from '@coldcopy/queue-core';
import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { keyLayoutOf, loadEnv } from '@coldcopy/queue-core/env';
import { createLogger, startHealthServer } from '@coldcopy/queue-core/runtime';
import { adminBacklog } from './backlog.js';
import { loadScalingConfig } from './config.js';
import { DoAppsClient } from './do-apps.js';
import { envSchema } from './env.js';
import { LeaderLock } from './leader-lock.js';
import { createScalerMetrics } from './metrics.js';
import { Scaler, type TickReport } from './scaler.js';

export function formatDecisions(report: TickReport): string {
  const rows = report.decisions.map((d) => [
    d.component,
    d.queue,
    String(d.backlog),
    d.oldestAgeSeconds === null ? '-' : d.oldestAgeSeconds.toFixed(0),
    String(d.current),
    String(d.desired),
    d.action,
    d.reason,
  ]);
  const header = ['component', 'queue', 'backlog', 'oldest_s', 'current', 'desired', 'action', 'reason'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const env = loadEnv(envSchema);
  const dryRun = argv.includes('--dry-run') || env.SCALER_DRY_RUN;
  const once = argv.includes('--once');
  if (!env.DO_API_TOKEN || !env.DO_APP_ID) throw new ConfigError('invalid environment:\nDO_API_TOKEN and DO_APP_ID are required (see .env.example)');
  const config = loadScalingConfig(isAbsolute(env.SCALER_CONFIG) ? env.SCALER_CONFIG : join(process.cwd(), env.SCALER_CONFIG));
  const logger = createLogger({ level: env.LOG_LEVEL, defaultMeta: { app: 'autoscaler' } });
  const layout = keyLayoutOf(env);
  const admin = openAdminQueues({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, shards: layout.shards, cluster: layout.cluster });
  const metrics = createScalerMetrics();
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const lock = new LeaderLock(admin.connections.commandClient, `coldcopy-autoscaler:${env.DO_APP_ID}`, owner, config.intervalSeconds * 3 * 1000);
  const api = new DoAppsClient({
    baseUrl: env.DO_API_URL,
    token: env.DO_API_TOKEN,
    onResponse: (method, status) => metrics.apiResponses.inc({ method, status: String(status) }),
  });
  const scaler = new Scaler({ config, appId: env.DO_APP_ID, api, backlog: adminBacklog(admin), lock, dryRun, logger, metrics });

  if (once) {
    try {
      const report = await scaler.tick();
      const changes = report.decisions.some((d) => d.action !== 'hold');
      const outcome = !changes ? 'no change' : report.applied ? 'applied' : `not applied: ${report.notApplied ?? 'unknown'}`;
      process.stdout.write(`${formatDecisions(report)}\n${outcome}\n`);
      return 0;
    } finally {
      await lock.release().catch(() => {});
      await admin.close();
    }
  }

  let lastTickOk = 0;
  const health = await startHealthServer({
    port: env.HEALTH_PORT,
    host: env.HEALTH_HOST,
    registry: metrics.register,
    // ready while Redis answers and a pass finished within three intervals
    ready: async () => (await admin.connections.commandClient.ping()) === 'PONG' && Date.now() - lastTickOk < config.intervalSeconds * 3000,
  });
  logger.info('autoscaler started', { appId: env.DO_APP_ID, dryRun, components: Object.keys(config.workers), healthPort: health.port });

  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const loop = () => {
    running = scaler
      .tick()
      .then(() => {
        lastTickOk = Date.now();
      })
      .catch((err: Error) => {
        logger.error('autoscaler pass failed', { error: err.message, name: err.name });
      })
      .finally(() => {
        if (!stopping) timer = setTimeout(loop, config.intervalSeconds * 1000);
      });
  };
  loop();

  return new Promise((resolve) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('autoscaler stopping', { signal });
      clearTimeout(timer);
      void running
        .then(() => lock.release().catch(() => {}))
        .then(() => Promise.allSettled([health.close(), admin.close()]))
        .then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err instanceof ConfigError ? err.message : (err.stack ?? err.message));
      process.exit(1);
    },
  );
}
