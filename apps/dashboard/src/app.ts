import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { QueueName } from '@coldcopy/queue-core';
import type { Logger } from '@coldcopy/queue-core/runtime';
import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { createAuth, sessionOf } from './auth/middleware.js';
import { redisSessionStore, type SessionStore } from './auth/session-store.js';
import { createBoards } from './board.js';
import type { DashboardEnv } from './env.js';
import { createHealthHandler } from './health.js';
import { createDashboardMetrics, type DashboardMetrics } from './metrics.js';
import { readQueueStates } from './queue-state.js';
import type { QueueTarget } from './queue-targets.js';
import { createRedactor } from './redact.js';

export interface AppDeps {
  readonly env: DashboardEnv;
  /** the Bull queues to show (queue-targets.ts) */
  readonly targets: readonly QueueTarget[];
  /**
   * A fail-fast command client (no offline queue) for /health and /metrics, so that a Redis
   * outage answers 503 at once instead of queueing commands.
   */
  readonly redis: Redis;
  readonly logger: Logger;
  /** more job-data field names to redact (e.g. fields job definitions mark sensitive) */
  readonly sensitiveKeys?: readonly string[];
  /** dead-letter store sizes, once that store exists (metrics.ts) */
  readonly readDeadLetterSizes?: () => Promise<ReadonlyMap<QueueName, number>>;
  /** default: a new registry with the default process metrics */
  readonly registry?: Registry;
}

export type DashboardApp = Express & { readonly metrics: DashboardMetrics; readonly sessions: SessionStore };

/** The Express app, not listening (main.ts listens; tests use supertest). */
export function createApp(deps: AppDeps): DashboardApp {
  const { env, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', env.trustProxy);

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // The board's scripts are its own static files; its page also pulls IBM Plex from
          // Google Fonts and has one inline <style>. No inline or remote scripts.
          'default-src': ["'self'"],
          'script-src': ["'self'"],
          'style-src': ["'self'", "'unsafe-inline'", 'https://fonts.googleapis.com'],
          'font-src': ["'self'", 'data:', 'https://fonts.gstatic.com'],
          'img-src': ["'self'", 'data:'],
          'connect-src': ["'self'"],
          'form-action': ["'self'"],
          'frame-ancestors': ["'none'"],
          'object-src': ["'none'"],
          'base-uri': ["'self'"],
          // Only behind https: on plain http it would break every asset request.
          'upgrade-insecure-requests': env.secureCookies ? [] : null,
        },
      },
      strictTransportSecurity: env.secureCookies ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'same-origin' },
    }),
  );

  const readStates = () => readQueueStates(deps.redis, deps.targets);
  const metrics = createDashboardMetrics({
    readStates,
    readDeadLetterSizes: deps.readDeadLetterSizes,
    registry: deps.registry,
    onError: (err) => logger.warn('metrics scrape could not read Redis', { err: err.message }),
  });
  const hasMetricsAccess = metricsAccess(env.METRICS_TOKEN, env.NODE_ENV === 'production');
  if (!env.METRICS_TOKEN && env.NODE_ENV === 'production') {
    logger.warn('METRICS_TOKEN is not set: /metrics answers 401 and /health shows no details in production until it is');
  }

  app.get('/livez', (_req, res) => {
    res.type('text').send('ok\n');
  });
  app.get('/health', createHealthHandler({ ping: () => deps.redis.ping(), readStates, showDetails: hasMetricsAccess }));
  app.get('/metrics', async (req, res, next) => {
    if (!hasMetricsAccess(req)) {
      res.status(401).set('www-authenticate', 'Bearer realm="metrics"').type('text').send('unauthorized\n');
      return;
    }
    try {
      const body = await metrics.render();
      res.set('content-type', metrics.registry.contentType).set('cache-control', 'no-store').send(body);
    } catch (err) {
      next(err);
    }
  });

  const authEnabled = env.ADMIN_AUTH === 'enabled';
  let sessionSecret = env.ADMIN_SESSION_SECRET;
  if (!sessionSecret) {
    sessionSecret = randomBytes(32).toString('hex');
    if (authEnabled) logger.warn('ADMIN_SESSION_SECRET is not set: using a random one, sessions end when the process restarts');
  }
  if (!authEnabled) {
    logger.warn(
      '!!! ADMIN_AUTH=disabled: the dashboard has NO AUTHENTICATION and every visitor is an operator. ' +
        'Local development only; refused when NODE_ENV=production. !!!',
    );
  }
  const sessions = redisSessionStore(deps.redis, env.BULL_PREFIX);
  const auth = createAuth({
    mode: env.ADMIN_AUTH,
    users: env.users,
    sessionSecret,
    sessionTtlMs: env.ADMIN_SESSION_TTL_MINUTES * 60_000,
    sessions,
    publicBoardPath: env.publicBoardPath,
    secureCookies: env.secureCookies,
    publicOrigin: env.publicOrigin,
    maxLoginFailures: env.ADMIN_LOGIN_MAX_FAILURES,
    title: 'ColdCopy jobs',
    logger,
  });
  const boards = createBoards({
    targets: deps.targets,
    publicBoardPath: env.publicBoardPath,
    redact: createRedactor(deps.sensitiveKeys),
    environmentLabel: env.ENVIRONMENT_LABEL,
    logoutUrl: authEnabled ? `${env.publicBoardPath}/logout` : undefined,
  });

  const audit: RequestHandler = (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.on('finish', () => {
        logger.info('board action', {
          user: sessionOf(res)?.user,
          role: sessionOf(res)?.role,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ip: req.ip,
        });
      });
    }
    next();
  };
  const byRole: RequestHandler = (req, res, next) => {
    const board = sessionOf(res)?.role === 'operator' ? boards.operator : boards.viewer;
    board(req, res, next);
  };
  app.use(env.ADMIN_BASE_PATH, cookieParser(), audit, auth.routes, ...auth.protect, byRole);

  app.get('/', (_req, res) => res.redirect(302, `${env.publicBoardPath}/`));
  app.use((_req, res) => {
    res.status(404).type('text').send('not found\n');
  });
  const onError: ErrorRequestHandler = (err: Error & { status?: number; statusCode?: number }, req, res, _next) => {
    const status = err.status ?? err.statusCode ?? 500;
    if (status >= 500) logger.error('request failed', { method: req.method, path: req.path, err: err.message, stack: err.stack });
    if (res.headersSent) return;
    res.status(status).json({ error: status >= 500 ? 'internal error' : err.message });
  };
  app.use(onError);

  return Object.assign(app, { metrics, sessions });
}

/**
 * With METRICS_TOKEN set, /metrics (and worker details on /health) need `Authorization: Bearer <token>`.
 * Without it they are open in development and closed in production (the board is public there).
 */
function metricsAccess(token: string | undefined, production: boolean): (req: Request) => boolean {
  if (!token) return () => !production;
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) return false;
    return timingSafeEqual(createHash('sha256').update(match[1].trim()).digest(), expected);
  };
}
