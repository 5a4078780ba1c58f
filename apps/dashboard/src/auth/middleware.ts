import type { Logger } from '@coldcopy/queue-core/runtime';
import { doubleCsrf } from 'csrf-csrf';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { renderLoginPage } from './login-page.js';
import { SessionCodec, type Session } from './session.js';
import type { SessionStore } from './session-store.js';
import type { AdminUser } from './users.js';
import { verifyCredentials } from './users.js';

export const SESSION_COOKIE = 'coldcopy_admin_session';
/** Read by the board's axios client, which copies it into the `X-XSRF-TOKEN` header. */
export const CSRF_COOKIE = 'XSRF-TOKEN';
export const CSRF_HEADER = 'x-xsrf-token';

export interface AuthOptions {
  readonly mode: 'enabled' | 'disabled';
  readonly users: readonly AdminUser[];
  readonly sessionSecret: string;
  readonly sessionTtlMs: number;
  /** where live sessions are recorded (required when mode is 'enabled') */
  readonly sessions?: SessionStore;
  /** the board's path as browsers see it: cookie path, redirect target */
  readonly publicBoardPath: string;
  readonly secureCookies: boolean;
  /** the only origin allowed to send writes; default: the request's own origin */
  readonly publicOrigin?: string;
  /** failed logins per client IP per 15 minutes */
  readonly maxLoginFailures: number;
  readonly title: string;
  readonly logger: Logger;
}

export interface Auth {
  /** `GET|POST /login`, `GET|POST /logout`, relative to the board's mount path */
  readonly routes: express.Router;
  /** Authentication, role and CSRF checks for everything else under the mount path. */
  readonly protect: RequestHandler[];
}

const LOCAL_DEV_SESSION: Session = { user: 'local-dev', role: 'operator', sid: 'local-dev', exp: Number.MAX_SAFE_INTEGER };
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The authenticated session of a request that passed `protect`. */
export function sessionOf(res: Response): Session | undefined {
  return res.locals.session as Session | undefined;
}

export function createAuth(options: AuthOptions): Auth {
  const { logger, publicBoardPath } = options;
  const codec = new SessionCodec(options.sessionSecret, options.sessionTtlMs);
  const loginPath = `${publicBoardPath}/login`;
  const cookieBase = { path: publicBoardPath, secure: options.secureCookies } as const;

  const csrf = doubleCsrf({
    getSecret: () => options.sessionSecret,
    getSessionIdentifier: (req) => (req as Request & { sessionId?: string }).sessionId ?? '',
    cookieName: CSRF_COOKIE,
    // Not HttpOnly: the board's JavaScript reads it (double-submit). SameSite=Strict: never
    // sent by cross-site requests at all.
    cookieOptions: { ...cookieBase, sameSite: 'strict', httpOnly: false },
    getCsrfTokenFromRequest: (req) => {
      const header = req.headers[CSRF_HEADER];
      if (typeof header === 'string') return header;
      const body = req.body as { _csrf?: unknown } | undefined;
      return typeof body?._csrf === 'string' ? body._csrf : undefined;
    },
    // Only checked by our own middleware below, after the session is known.
    ignoredMethods: ['GET', 'HEAD', 'OPTIONS'],
  });

  const store = options.sessions;
  if (options.mode === 'enabled' && !store) throw new TypeError('createAuth: a session store is required when authentication is enabled');
  /**
   * The session of a request: an authentic, unexpired cookie of a configured user that is also
   * live in the store (not logged out, not revoked). Throws when the store cannot be read.
   */
  const cookieSession = (req: Request) => codec.verify((req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE], options.users);
  const readSession = async (req: Request): Promise<Session | undefined> => {
    if (options.mode === 'disabled') return LOCAL_DEV_SESSION;
    const session = cookieSession(req);
    const user = session && options.users.find((u) => u.name === session.user);
    if (!session || !user) return undefined;
    return (await store!.isLive(session, user)) ? session : undefined;
  };

  const issueCsrfToken = (req: Request, res: Response, session: Session, overwrite: boolean): string => {
    (req as Request & { sessionId?: string }).sessionId = session.sid;
    return csrf.generateCsrfToken(req, res, { overwrite });
  };

  const safeNext = (value: unknown): string => {
    if (typeof value !== 'string') return `${publicBoardPath}/`;
    const inside = value === publicBoardPath || value.startsWith(`${publicBoardPath}/`);
    return inside && !value.startsWith('//') && !/[\\\r\n]/.test(value) ? value : `${publicBoardPath}/`;
  };

  const loginPage = (res: Response, status: number, args: { next: string; message?: string; username?: string }) =>
    res
      .status(status)
      .type('html')
      .set('cache-control', 'no-store')
      .send(renderLoginPage({ action: loginPath, title: options.title, ...args }));

  const clientOf = (req: Request) => ({ ip: req.ip, userAgent: req.get('user-agent') });

  const loginLimiter = rateLimit({
    windowMs: 15 * 60_000,
    limit: options.maxLoginFailures,
    // Only failed logins (status >= 400) count against the budget.
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) => {
      const username = (req.body as { username?: unknown } | undefined)?.username;
      logger.warn('login rate limit exceeded', { ...clientOf(req), user: typeof username === 'string' ? username : '' });
      loginPage(res, 429, { next: safeNext((req.body as { next?: unknown })?.next), message: 'Too many failed sign-ins. Try again later.' });
    },
  });

  const routes = express.Router();
  routes.get('/login', async (req, res, next) => {
    try {
      if (options.mode === 'disabled') return res.redirect(303, safeNext(req.query.next));
      if (await readSession(req)) return res.redirect(303, safeNext(req.query.next));
      return loginPage(res, 200, { next: safeNext(req.query.next) });
    } catch (err) {
      return next(err);
    }
  });
  routes.post('/login', express.urlencoded({ extended: false, limit: '4kb' }), checkOrigin(options), loginLimiter, async (req, res, next) => {
    try {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const username = typeof body.username === 'string' ? body.username.slice(0, 128) : '';
      const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
      const target = safeNext(body.next);
      if (options.mode === 'disabled') return res.redirect(303, target);
      const user = username && password ? await verifyCredentials(options.users, username, password) : undefined;
      if (!user) {
        logger.warn('login failed', { ...clientOf(req), user: username });
        return loginPage(res, 401, { next: target, username, message: 'Wrong user name or password.' });
      }
      const { value, session } = codec.issue(user);
      await store!.add(session, user, options.sessionTtlMs);
      res.cookie(SESSION_COOKIE, value, { ...cookieBase, httpOnly: true, sameSite: 'lax', maxAge: options.sessionTtlMs });
      issueCsrfToken(req, res, session, true);
      logger.info('login', { ...clientOf(req), user: user.name, role: user.role });
      return res.redirect(303, target);
    } catch (err) {
      return next(err);
    }
  });
  const logout: RequestHandler = async (req, res, next) => {
    try {
      if (options.mode === 'enabled') {
        // Ends the session the cookie names, whether or not it is still live.
        const session = cookieSession(req);
        if (session) {
          await store!.revoke(session);
          logger.info('logout', { ...clientOf(req), user: session.user });
        }
      }
    } catch (err) {
      return next(err);
    }
    res.clearCookie(SESSION_COOKIE, { ...cookieBase, httpOnly: true, sameSite: 'lax' });
    res.clearCookie(CSRF_COOKIE, { ...cookieBase, sameSite: 'strict' });
    return res.redirect(303, loginPath);
  };
  // GET is allowed for the board's "Log out" link: forcing someone out is a nuisance, not a breach.
  routes.get('/logout', logout);
  routes.post('/logout', logout);

  const authenticate: RequestHandler = async (req, res, next) => {
    let session: Session | undefined;
    try {
      session = await readSession(req);
    } catch (err) {
      // Fail closed: without the store no session can be checked.
      logger.warn('session store unavailable', { err: (err as Error).message, path: req.path });
      return res.status(503).set('cache-control', 'no-store').json({ error: 'session store unavailable: try again shortly' });
    }
    if (!session) {
      const wantsPage = (req.method === 'GET' || req.method === 'HEAD') && !/^\/(api|static)\//.test(req.path) && req.accepts(['html', 'json']) === 'html';
      if (wantsPage) {
        const original = `${publicBoardPath}${req.path === '/' ? '/' : req.path}`;
        return res.redirect(302, `${loginPath}?next=${encodeURIComponent(original)}`);
      }
      return res.status(401).set('cache-control', 'no-store').json({ error: 'authentication required', login: loginPath });
    }
    res.locals.session = session;
    (req as Request & { sessionId?: string }).sessionId = session.sid;
    // Hand out a CSRF token with every page load that lacks a valid one
    // (generateCsrfToken keeps a cookie that is still valid for this session)
    if (SAFE_METHODS.has(req.method) && !/^\/(api|static)\//.test(req.path)) issueCsrfToken(req, res, session, false);
    return next();
  };

  const authorizeWrites: RequestHandler = (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const session = sessionOf(res)!;
    if (session.role !== 'operator') {
      logger.warn('write refused for viewer', { ...clientOf(req), user: session.user, method: req.method, path: req.path });
      return res.status(403).json({ error: 'the viewer role is read-only' });
    }
    if (!csrf.validateRequest(req)) {
      logger.warn('write refused: missing or invalid CSRF token', { ...clientOf(req), user: session.user, method: req.method, path: req.path });
      return res.status(403).json({ error: 'invalid CSRF token: reload the page' });
    }
    return next();
  };

  return { routes, protect: [checkOrigin(options), authenticate, authorizeWrites] };
}

/**
 * Writes from another origin are refused outright (defence in depth next to SameSite cookies and
 * the CSRF token). Browsers send `Origin` on cross-origin writes and `Sec-Fetch-Site` on every
 * request; non-browser clients send neither and are judged by the token alone. Without
 * PUBLIC_URL the origin's host must equal the Host header (the scheme is unknown behind a proxy).
 */
function checkOrigin(options: Pick<AuthOptions, 'publicOrigin' | 'logger'>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('sec-fetch-site');
    const origin = req.get('origin');
    let allowed = site === undefined || site === 'same-origin' || site === 'none';
    if (allowed && origin !== undefined) {
      if (options.publicOrigin) allowed = origin === options.publicOrigin;
      else allowed = hostOf(origin) !== undefined && hostOf(origin) === req.get('host');
    }
    if (!allowed) {
      options.logger.warn('cross-origin write refused', { ip: req.ip, origin, secFetchSite: site, path: req.path });
      return res.status(403).json({ error: 'cross-origin request refused' });
    }
    return next();
  };
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined; // includes the opaque origin "null"
  }
}
