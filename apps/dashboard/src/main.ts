import type { AddressInfo } from 'node:net';
import { ConfigError } from '@coldcopy/queue-core';
import { openAdminQueues, openDeadLetters } from '@coldcopy/queue-core/admin';
import { keyLayoutOf } from '@coldcopy/queue-core/env';
import { createLogger, RedisConnections } from '@coldcopy/queue-core/runtime';
import { createApp } from './app.js';
import { deadLetterSizes } from './dead-letters.js';
import { loadDashboardEnv } from './env.js';
import { listQueueTargets } from './queue-targets.js';

/** Composition root: env → Redis → app → listen → SIGTERM with a 30 s grace (ops.md §4). */
const GRACE_SECONDS = 30;

async function main(): Promise<void> {
  let env;
  let layout;
  try {
    env = loadDashboardEnv();
    // shards and Redis Cluster key layout of the queues, as the workers have them
    layout = keyLayoutOf(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dashboard: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger({ level: env.LOG_LEVEL, defaultMeta: { app: 'dashboard' } });
  // Bull queues for the board (they never process jobs) and a fail-fast client for /health and
  // /metrics: with no offline queue, an outage answers 503 at once.
  const admin = openAdminQueues({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, ...layout });
  const probe = new RedisConnections(env.REDIS_URL, 'producer', 'coldcopy-dashboard');
  const deadLetters = openDeadLetters({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, cluster: layout.cluster });
  const app = createApp({
    env,
    targets: listQueueTargets(admin),
    redis: probe.client,
    logger,
    readDeadLetterSizes: deadLetterSizes(deadLetters),
  });
  // Give Redis a moment so the first scrape does not count as an error; start regardless (then
  // /health answers 503 until Redis is reachable).
  if (!(await readyWithin(probe.client, 5000))) logger.warn('Redis is not reachable yet; /health answers 503 until it is');
  else if (env.ADMIN_AUTH === 'enabled') {
    // A user removed from ADMIN_USERS or given a new password loses every session, on every replica.
    try {
      const ended = await app.sessions.revokeStale(env.users);
      if (ended.length > 0) logger.info('sessions ended for removed or changed users', { users: ended });
    } catch (err) {
      logger.warn('could not end stale sessions', { err: (err as Error).message });
    }
  }

  const server = app.listen(env.PORT, env.HOST);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000; // longer than typical proxy idle timeouts
  const { port } = server.address() as AddressInfo;
  logger.info('dashboard listening', {
    host: env.HOST,
    port,
    board: env.publicBoardPath,
    auth: env.ADMIN_AUTH,
    users: env.users.map((u) => `${u.name}:${u.role}`),
    metricsToken: Boolean(env.METRICS_TOKEN),
    prefix: env.BULL_PREFIX,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    stopping = true;
    logger.info('shutting down', { signal, graceSeconds: GRACE_SECONDS });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, (GRACE_SECONDS - 5) * 1000).unref());
    await Promise.race([closed, deadline]);
    server.closeAllConnections();
    await Promise.allSettled([admin.close(), probe.close(), deadLetters.close()]);
    logger.info('stopped');
    await new Promise<void>((resolve) => {
      logger.on('finish', () => resolve());
      logger.end();
      setTimeout(resolve, 500).unref();
    });
    process.exit(0);
  };
  process.once('SIGTERM', (s) => void shutdown(s));
  process.once('SIGINT', (s) => void shutdown(s));
}

function readyWithin(client: RedisConnections['client'], ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

main().catch((err: Error) => {
  process.stderr.write(`dashboard: failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
