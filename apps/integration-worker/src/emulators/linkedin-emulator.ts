import { type Answer, HttpEmulator } from './http-emulator.js';
import type { OAuthEmulator } from './oauth-emulator.js';

/**
 * LinkedIn's API as a self-serve app sees it (providers.md §10), on the wire:
 * - `GET /v2/userinfo` with a bearer token of the OAuth emulator: the OIDC claims of the member
 *   (`sub`, `name`, `given_name`, `family_name`, `picture`, `email`, `email_verified`, `locale`);
 *   401 `{ serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN' }` for an expired or revoked one.
 * - every other `/v2/*` or `/rest/*` path (people, connections, messages, invitations,
 *   organisation statistics…): 403 `ACCESS_DENIED`, as for an app without the partner program,
 *   logged as the endpoint `partner-gated` so a test can prove none was called.
 * Members are added with `member(account, claims)`, or `POST /__emulator/members { account, claims }`, which
 * also answers a grant of the OAuth emulator for them (a dev sign-in).
 */
export interface LinkedinMember {
  readonly sub: string;
  readonly given_name: string;
  readonly family_name: string;
  readonly email: string;
  readonly picture?: string;
}

export interface LinkedinEmulator extends HttpEmulator {
  /** the member behind an OAuth account's tokens */
  member(account: string, claims: LinkedinMember): void;
}

export async function startLinkedinEmulator(options: { oauth: OAuthEmulator }, port = 0): Promise<LinkedinEmulator> {
  const members = new Map<string, LinkedinMember>();
  const unauthorized: Answer = {
    status: 401,
    body: { status: 401, serviceErrorCode: 65600, code: 'INVALID_ACCESS_TOKEN', message: 'Invalid access token' },
  };
  const userinfo = (authorization: string | undefined): Answer => {
    const account = options.oauth.check(authorization);
    if (account === undefined || account === 'expired') return unauthorized;
    const m = members.get(account);
    if (!m) return unauthorized;
    return {
      status: 200,
      body: {
        sub: m.sub,
        name: `${m.given_name} ${m.family_name}`,
        given_name: m.given_name,
        family_name: m.family_name,
        picture: m.picture ?? `https://media.licdn.example/${m.sub}.jpg`,
        locale: { country: 'US', language: 'en' },
        email: m.email,
        email_verified: true,
      },
    };
  };
  const emulator = new HttpEmulator(
    'linkedin',
    (req) => {
      if (req.method === 'GET' && req.path === '/v2/userinfo') return { endpoint: 'userinfo', answer: () => userinfo(req.headers.authorization) };
      if (req.path.startsWith('/v2/') || req.path.startsWith('/rest/'))
        return {
          endpoint: 'partner-gated',
          answer: () => ({
            status: 403,
            body: { status: 403, serviceErrorCode: 100, code: 'ACCESS_DENIED', message: `Not enough permissions to access: ${req.method} ${req.path}` },
          }),
        };
      return undefined;
    },
    (method, path, body) => {
      if (path !== '/__emulator/members' || method !== 'POST') return undefined;
      const b = (body ?? {}) as { account?: unknown; claims?: LinkedinMember };
      if (typeof b.account !== 'string' || !b.claims?.sub) return { status: 400, body: { error: 'account and claims.sub are required' } };
      members.set(b.account, b.claims);
      // a dev sign-in: the member and a fresh grant (what the OAuth callback would store)
      return { status: 201, body: options.oauth.grant(b.account) };
    },
  ) as LinkedinEmulator;
  emulator.member = (account, claims) => void members.set(account, claims);
  await emulator.listen(port);
  return emulator;
}
