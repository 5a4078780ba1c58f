import { loadEnv, loggingEnv, redisEnv, shardingEnv } from '@coldcopy/queue-core/env';
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

export const envSchema = z
  .object({
    ...redisEnv,
    ...loggingEnv,
    // the board reads every queue's shards with the workers' key layout
    ...shardingEnv,
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development').meta({ description: '`production` in deployments' }),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000).meta({ description: 'HTTP port' }),
    HOST: z.string().min(1).default('0.0.0.0').meta({ description: 'HTTP bind address' }),
    ADMIN_AUTH: z
      .enum(['enabled', 'disabled'])
      .default('enabled')
      .meta({ description: '`disabled` is for local development only: every visitor becomes an operator' }),
    ADMIN_USERS: z.string().optional().meta({
      description: '`name:role:bcrypt-hash,…`; role is `viewer` (read-only board) or `operator`; hash with `pnpm --filter @coldcopy/dashboard hash-password`',
      secret: true,
    }),
    ADMIN_SESSION_SECRET: z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .meta({ description: 'HMAC key for session and CSRF cookies, ≥ 32 characters; required in production', secret: true }),
    ADMIN_SESSION_TTL_MINUTES: z.coerce
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 60)
      .default(8 * 60)
      .meta({ description: 'session lifetime' }),
    ADMIN_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(10).meta({ description: 'failed logins allowed per client IP per 15 minutes' }),
    ADMIN_BASE_PATH: urlPath.default('/admin/queues').meta({ description: 'where the board is mounted in this app (the path the app receives)' }),
    PUBLIC_URL: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
      .optional()
      .meta({
        description:
          "the app's external URL as browsers see it, e.g. `https://ops.example.com` or `https://example.com/ops` behind a prefix-stripping proxy: " +
          'its path goes in front of ADMIN_BASE_PATH, `https:` turns on Secure cookies and HSTS, its origin is the only one allowed to write',
      }),
    TRUST_PROXY: z
      .string()
      .default('false')
      .meta({ description: 'Express `trust proxy` (hop count, `loopback`, CIDRs): needed for client IPs behind a proxy' }),
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional().meta({
      description: 'when set, /metrics requires `Authorization: Bearer <token>`; in production /metrics and /health details are refused without it',
      secret: true,
    }),
    ENVIRONMENT_LABEL: z.string().max(40).optional().meta({ description: 'label of the environment badge on the board, e.g. `production`' }),
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

export type DashboardEnv = z.output<typeof envSchema>;

export function loadDashboardEnv(source: Record<string, string | undefined> = process.env): DashboardEnv {
  return loadEnv(envSchema, source);
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'false' || value === '0') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
