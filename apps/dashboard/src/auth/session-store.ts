import type { Redis } from 'ioredis';
import { passwordFingerprint, type Session } from './session.js';
import type { AdminUser } from './users.js';

/**
 * Server-side record of the sessions that are still valid, so that a signed cookie alone is not
 * enough: logout, a password change and a removed user end the session on every replica at once.
 *
 * Keys (all under the Bull prefix, so one Redis holds one deployment's dashboard state, and all
 * in the prefix's hash slot when it has a hash tag):
 * - `<prefix>:dashboard:session:<sid>` → `<user>:<password fingerprint>`, expiring with the cookie;
 * - `<prefix>:dashboard:sessions:<user>` → the user's session ids (to end them all);
 * - `<prefix>:dashboard:session-users` → users that have session sets (to find removed users).
 */
export interface SessionStore {
  /** records a session just issued to `user` */
  add(session: Session, user: AdminUser, ttlMs: number): Promise<void>;
  /** whether the session is recorded for this user with this password (not logged out, not revoked) */
  isLive(session: Session, user: AdminUser): Promise<boolean>;
  /** ends one session (logout) */
  revoke(session: Session): Promise<void>;
  /** ends every session of a user; the number ended */
  revokeUser(name: string): Promise<number>;
  /**
   * Ends the sessions of users that are no longer configured or whose password changed (called at
   * start-up with the configured users). The users whose sessions were ended.
   */
  revokeStale(users: readonly AdminUser[]): Promise<string[]>;
}

/**
 * The dashboard's Redis client fails fast (no offline queue, for /health); a login or session check
 * right after start, or during a reconnect, waits up to `waitMs` for the connection instead.
 */
async function whenReady(redis: Redis, waitMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`Redis not ready after ${waitMs} ms (${redis.status})`));
    }, waitMs);
    redis.once('ready', onReady);
  });
}

export function redisSessionStore(redis: Redis, prefix: string, waitMs = 2000): SessionStore {
  const sessionKey = (sid: string) => `${prefix}:dashboard:session:${sid}`;
  const userKey = (name: string) => `${prefix}:dashboard:sessions:${name}`;
  const usersKey = `${prefix}:dashboard:session-users`;
  const valueOf = (user: AdminUser) => `${user.name}:${passwordFingerprint(user.passwordHash)}`;

  const revokeUser = async (name: string): Promise<number> => {
    await whenReady(redis, waitMs);
    const sids = await redis.smembers(userKey(name));
    const tx = redis.multi();
    for (const sid of sids) tx.del(sessionKey(sid));
    tx.del(userKey(name)).srem(usersKey, name);
    const replies = (await tx.exec()) ?? [];
    return replies.slice(0, sids.length).reduce((n, [, deleted]) => n + Number(deleted ?? 0), 0);
  };

  return {
    async add(session, user, ttlMs) {
      await whenReady(redis, waitMs);
      await redis
        .multi()
        .set(sessionKey(session.sid), valueOf(user), 'PX', ttlMs)
        .sadd(userKey(user.name), session.sid)
        // the set lives as long as its newest session; ids of expired sessions in it are harmless
        .pexpire(userKey(user.name), ttlMs)
        .sadd(usersKey, user.name)
        .exec();
    },
    async isLive(session, user) {
      await whenReady(redis, waitMs);
      return (await redis.get(sessionKey(session.sid))) === valueOf(user);
    },
    async revoke(session) {
      await whenReady(redis, waitMs);
      await redis.multi().del(sessionKey(session.sid)).srem(userKey(session.user), session.sid).exec();
    },
    revokeUser,
    async revokeStale(users) {
      await whenReady(redis, waitMs);
      const current = new Map(users.map((u) => [u.name, valueOf(u)]));
      const ended: string[] = [];
      for (const name of await redis.smembers(usersKey)) {
        const expected = current.get(name);
        if (expected === undefined) {
          if ((await revokeUser(name)) > 0) ended.push(name);
          continue;
        }
        const sids = await redis.smembers(userKey(name));
        const values = sids.length > 0 ? await redis.mget(...sids.map(sessionKey)) : [];
        // sessions issued under another password; null: expired already
        const stale = sids.filter((_, i) => values[i] !== null && values[i] !== expected);
        const gone = sids.filter((_, i) => values[i] === null);
        if (stale.length + gone.length === 0) continue;
        const tx = redis.multi();
        for (const sid of stale) tx.del(sessionKey(sid));
        tx.srem(userKey(name), ...stale, ...gone);
        await tx.exec();
        if (stale.length > 0) ended.push(name);
      }
      return ended;
    },
  };
}
