import { loadEnv, redisEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';
import { parseAdminUsers, type AdminUser } from './auth/users.js';

/**
 * The dashboard's environment (one zod schema, parsed by main.ts, never at import time).
 *
 * Authentication is a login page with a signed session cookie (see auth/session.ts for why not
 * basic auth). Users come from `ADMIN_USERS`: comma-separated `name:role:bcrypt-hash` entries,
 * role `viewer` or `operator`; hash a password with `pnpm --filter @coldcopy/dashboard
 * hash-password`.
 */

const urlPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, 'must be an absolute URL path such as /admin/queues')
  .transform((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p))
  .refine((p) => p !== '/', 'must not be the root path: /health and /metrics live there');

export const dashboardEnvSchema = z
  .object({
    ...redisEnv,
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    /** `disabled` is for local development only: every visitor becomes an operator. */
    ADMIN_AUTH: z.enum(['enabled', 'disabled']).default('enabled'),
    /** `name:role:bcrypt-hash,…`; role is `viewer` (read-only board) or `operator` */
    ADMIN_USERS: z.string().optional(),
    /** HMAC key for session and CSRF cookies, ≥ 32 characters; required in production */
    ADMIN_SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    ADMIN_SESSION_TTL_MINUTES: z.coerce.number().int().min(5).max(7 * 24 * 60).default(8 * 60),
    /** failed logins allowed per client IP per 15 minutes */
    ADMIN_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(10),
    /** Where the board is mounted in this app (the path the app receives). */
    ADMIN_BASE_PATH: urlPath.default('/admin/queues'),
    /**
     * The app's external URL as browsers see it, e.g. `https://ops.example.com` or
     * `https://example.com/ops` when a proxy forwards `/ops/*` with the prefix stripped. Its path
     * is put in front of ADMIN_BASE_PATH in the page's <base href>, redirects and cookie paths;
     * `https:` turns on Secure cookies and HSTS; its origin is the only one allowed to write.
     */
    PUBLIC_URL: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
      .optional(),
    /** Express `trust proxy` (hop count, `loopback`, CIDRs): needed for client IPs behind a proxy */
    TRUST_PROXY: z.string().default('false'),
    /** When set, /metrics requires `Authorization: Bearer <token>`; in production /metrics and /health details are refused without it */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Label of the environment badge on the board, e.g. `production` */
    ENVIRONMENT_LABEL: z.string().max(40).optional(),
  })
  .transform((env, ctx) => {
    let users: AdminUser[] = [];
    if (env.ADMIN_USERS) {
      try {
        users = parseAdminUsers(env.ADMIN_USERS);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['ADMIN_USERS'], message: (err as Error).message });
        return z.NEVER;
      }
    }
    if (env.ADMIN_AUTH === 'disabled' && env.NODE_ENV === 'production') {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_AUTH'], message: 'ADMIN_AUTH=disabled is refused when NODE_ENV=production' });
    }
    if (env.ADMIN_AUTH === 'enabled' && users.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['ADMIN_USERS'],
        message:
          'no credentials configured: set ADMIN_USERS (name:role:bcrypt-hash, see `pnpm --filter @coldcopy/dashboard hash-password`)' +
          (env.NODE_ENV === 'production' ? '' : ', or ADMIN_AUTH=disabled for local development'),
      });
    }
    if (env.ADMIN_AUTH === 'enabled' && env.NODE_ENV === 'production' && !env.ADMIN_SESSION_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['ADMIN_SESSION_SECRET'], message: 'required in production (e.g. `openssl rand -hex 32`)' });
    }
    const publicPath = env.PUBLIC_URL ? new URL(env.PUBLIC_URL).pathname.replace(/\/+$/, '') : '';
    return {
      ...env,
      users,
      /** the board's path as the browser sees it */
      publicBoardPath: `${publicPath}${env.ADMIN_BASE_PATH}`,
      /** Secure cookies and HSTS: on for https PUBLIC_URL, and in production unless PUBLIC_URL is http */
      secureCookies: env.PUBLIC_URL ? env.PUBLIC_URL.startsWith('https://') : env.NODE_ENV === 'production',
      publicOrigin: env.PUBLIC_URL ? new URL(env.PUBLIC_URL).origin : undefined,
      trustProxy: parseTrustProxy(env.TRUST_PROXY),
    };
  });

export type DashboardEnv = z.output<typeof dashboardEnvSchema>;

export function loadDashboardEnv(source: Record<string, string | undefined> = process.env): DashboardEnv {
  return loadEnv(dashboardEnvSchema, source);
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'false' || value === '0') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
