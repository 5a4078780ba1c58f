import { randomUUID } from 'node:crypto';
import {
  deactivateConnection,
  getIntegrationConnection,
  type IntegrationConnectionRow,
  type IntegrationProvider,
  type Pool,
  storeConnectionTokens,
} from '@coldcopy/db';
import { PermanentJobError } from '@coldcopy/queue-core';
import type { Redis } from 'ioredis';
import { type TokenCipher, tokenBinding } from '../crypto/token-cipher.js';
import { type OAuthClient, OAuthGrantError } from './oauth-client.js';

/**
 * Access tokens of CRM connections: decrypted from Postgres, refreshed ahead of expiry, one refresh
 * at a time per connection across every replica (single flight through a Redis lock), new tokens
 * persisted (encrypted) before anyone uses them. A revoked grant stops the connection with a
 * notice, once: every waiting job then fails permanently instead of retrying.
 */
export interface ConnectionToken {
  readonly connection: IntegrationConnectionRow;
  readonly accessToken: string;
}

export interface TokenManager {
  accessToken(workspaceId: string, provider: IntegrationProvider, signal?: AbortSignal): Promise<ConnectionToken>;
}

/** The connection is missing, inactive or revoked: the user has to (re)connect. */
export class ConnectionUnavailableError extends PermanentJobError {
  override name = 'ConnectionUnavailableError';
}

export interface TokenManagerOptions {
  readonly pool: Pool;
  readonly redis: Redis;
  readonly cipher: TokenCipher;
  readonly oauth: (provider: IntegrationProvider) => OAuthClient | undefined;
  /** Redis key prefix, e.g. `${BULL_PREFIX}:integration` */
  readonly prefix: string;
  readonly refreshAheadMs: number;
  readonly lockMs: number;
  readonly now?: () => number;
}

const TABLE = 'integration_connections';

// deletes the lock only when it still holds our token
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const now = options.now ?? Date.now;
  const inProcess = new Map<string, Promise<ConnectionToken>>();

  const load = async (workspaceId: string, provider: IntegrationProvider) => {
    const row = await getIntegrationConnection(options.pool, workspaceId, provider);
    if (!row) throw new ConnectionUnavailableError(`workspace has no ${provider} connection`);
    if (row.status !== 'active' || !row.access_token_encrypted || !row.refresh_token_encrypted) {
      throw new ConnectionUnavailableError(`${provider} connection is ${row.status}: reconnect it`);
    }
    return row;
  };
  const fresh = (row: IntegrationConnectionRow) => row.expires_at !== null && row.expires_at.getTime() - now() > options.refreshAheadMs;

  const usable = async (row: IntegrationConnectionRow): Promise<ConnectionToken> => {
    const accessToken = options.cipher.decrypt(row.access_token_encrypted!, tokenBinding(TABLE, row.id, 'access'));
    // rotation: a token sealed under an older key is re-sealed under the current one
    if (row.token_key_id !== options.cipher.currentKeyId) {
      const refreshToken = options.cipher.decrypt(row.refresh_token_encrypted!, tokenBinding(TABLE, row.id, 'refresh'));
      await storeConnectionTokens(
        options.pool,
        row.workspace_id,
        row.id,
        {
          accessToken: options.cipher.encrypt(accessToken, tokenBinding(TABLE, row.id, 'access')),
          refreshToken: options.cipher.encrypt(refreshToken, tokenBinding(TABLE, row.id, 'refresh')),
          keyId: options.cipher.currentKeyId,
          expiresAt: row.expires_at!,
        },
        false,
      );
    }
    return { connection: row, accessToken };
  };

  async function refreshed(workspaceId: string, provider: IntegrationProvider, signal?: AbortSignal): Promise<ConnectionToken> {
    const lockKey = `${options.prefix}:token-refresh:${provider}:${workspaceId}`;
    const me = randomUUID();
    const deadline = now() + options.lockMs * 3;
    for (;;) {
      signal?.throwIfAborted();
      const row = await load(workspaceId, provider);
      if (fresh(row)) return usable(row);
      const got = await options.redis.set(lockKey, me, 'PX', options.lockMs, 'NX');
      if (got === 'OK') {
        try {
          // another replica may have finished between our read and our lock
          const current = await load(workspaceId, provider);
          if (fresh(current)) return usable(current);
          return await refreshWithLock(current, signal);
        } finally {
          await options.redis.eval(RELEASE, 1, lockKey, me);
        }
      }
      if (now() > deadline) throw new Error(`${provider} token refresh of the workspace's connection did not finish in time`);
      // another replica refreshes: wait for its lock to go, then re-read what it stored
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
    }
  }

  async function refreshWithLock(row: IntegrationConnectionRow, signal?: AbortSignal): Promise<ConnectionToken> {
    const client = options.oauth(row.provider);
    if (!client) throw new ConnectionUnavailableError(`${row.provider} OAuth client is not configured on this worker`);
    const refreshToken = options.cipher.decrypt(row.refresh_token_encrypted!, tokenBinding(TABLE, row.id, 'refresh'));
    let tokens;
    try {
      tokens = await client.refresh(refreshToken, signal);
    } catch (err) {
      if (err instanceof OAuthGrantError) {
        await deactivateConnection(options.pool, row.workspace_id, row.id, {
          status: 'revoked',
          message: `${row.provider} refused the stored grant (${err.code}); reconnect the integration`,
        });
        throw new ConnectionUnavailableError(`${row.provider} grant revoked (${err.code}): connection deactivated`, { cause: err });
      }
      throw err;
    }
    const expiresAt = new Date(now() + tokens.expiresInSeconds * 1000);
    const stored = await storeConnectionTokens(options.pool, row.workspace_id, row.id, {
      accessToken: options.cipher.encrypt(tokens.accessToken, tokenBinding(TABLE, row.id, 'access')),
      ...(tokens.refreshToken ? { refreshToken: options.cipher.encrypt(tokens.refreshToken, tokenBinding(TABLE, row.id, 'refresh')) } : {}),
      keyId: options.cipher.currentKeyId,
      expiresAt,
    });
    if (!stored) throw new ConnectionUnavailableError(`${row.provider} connection was deactivated during the refresh`);
    return { connection: { ...row, expires_at: expiresAt }, accessToken: tokens.accessToken };
  }

  return {
    async accessToken(workspaceId, provider, signal) {
      const row = await load(workspaceId, provider);
      if (fresh(row)) return usable(row);
      // one refresh per connection in this process; the Redis lock covers the other replicas
      const key = `${provider}:${workspaceId}`;
      let flight = inProcess.get(key);
      if (!flight) {
        flight = refreshed(workspaceId, provider, signal).finally(() => inProcess.delete(key));
        inProcess.set(key, flight);
      }
      return flight;
    },
  };
}
