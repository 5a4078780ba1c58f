import { randomUUID } from 'node:crypto';
import type { EncryptedTokens } from '@coldcopy/db';
import { PermanentJobError } from '@coldcopy/queue-core';
import type { Redis } from 'ioredis';
import { type OAuthClient, OAuthGrantError } from './oauth-client.js';
import { type TokenCipher, tokenBinding } from './token-cipher.js';

/**
 * Access tokens of provider connections: decrypted from Postgres, refreshed ahead of expiry, one
 * refresh at a time per row across every replica (single flight through a Redis lock), new tokens
 * persisted (encrypted) before anyone uses them. A revoked grant stops the row with a notice,
 * once: every waiting job then fails permanently instead of retrying.
 *
 * Generic over the table that holds the tokens (TokenTable): CRM connections
 * (`integration_connections`, the integration worker's token-manager.ts) and calendar accounts
 * (`calendar_accounts`, calendar-tokens.ts).
 */

/** The connection is missing, inactive or revoked: the user has to (re)connect. */
export class ConnectionUnavailableError extends PermanentJobError {
  override name = 'ConnectionUnavailableError';
}

/** What the vault needs of a row: its sealed tokens. */
export interface SealedTokens {
  readonly id: string;
  readonly workspaceId: string;
  readonly provider: string;
  readonly accessToken: Buffer;
  readonly refreshToken: Buffer;
  readonly keyId: string | null;
  readonly expiresAt: Date | null;
}

/** A table of sealed tokens; `ref` names a row within a workspace (a provider, an account id). */
export interface TokenTable<R> {
  /** the table name bound into every ciphertext (tokenBinding) */
  readonly name: string;
  /** the usable row, or ConnectionUnavailableError (missing, inactive, no tokens) */
  load(workspaceId: string, ref: string): Promise<R>;
  sealed(row: R): SealedTokens;
  /** persists tokens of a still-active row; false when it was deactivated meanwhile */
  store(row: R, tokens: EncryptedTokens, refreshed: boolean): Promise<boolean>;
  /** the grant is refused: stop the row, notify once */
  deactivate(row: R, message: string): Promise<void>;
  /** the row with its new expiry, as handed to the caller after a refresh */
  withExpiry(row: R, expiresAt: Date): R;
}

export interface TokenVaultOptions {
  readonly redis: Redis;
  readonly cipher: TokenCipher;
  readonly oauth: (provider: string) => OAuthClient | undefined;
  /** Redis key prefix, e.g. `${BULL_PREFIX}:integration` */
  readonly prefix: string;
  readonly refreshAheadMs: number;
  readonly lockMs: number;
  readonly now?: () => number;
}

export interface TokenVault<R> {
  accessToken(workspaceId: string, ref: string, signal?: AbortSignal): Promise<{ row: R; accessToken: string }>;
}

/** The sealed tokens of a row with the usual token columns (both token tables have them). */
export function sealedColumns(row: {
  id: string;
  workspace_id: string;
  provider: string;
  access_token_encrypted: Buffer | null;
  refresh_token_encrypted: Buffer | null;
  token_key_id: string | null;
  expires_at: Date | null;
}): SealedTokens {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    provider: row.provider,
    accessToken: row.access_token_encrypted!,
    refreshToken: row.refresh_token_encrypted!,
    keyId: row.token_key_id,
    expiresAt: row.expires_at,
  };
}

// deletes the lock only when it still holds our token
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

export function createTokenVault<R>(table: TokenTable<R>, options: TokenVaultOptions): TokenVault<R> {
  const now = options.now ?? Date.now;
  const inProcess = new Map<string, Promise<{ row: R; accessToken: string }>>();
  const binding = (s: SealedTokens, field: 'access' | 'refresh') => tokenBinding(table.name, s.id, field);
  const fresh = (row: R) => {
    const expiresAt = table.sealed(row).expiresAt;
    return expiresAt !== null && expiresAt.getTime() - now() > options.refreshAheadMs;
  };

  const usable = async (row: R): Promise<{ row: R; accessToken: string }> => {
    const s = table.sealed(row);
    const accessToken = options.cipher.decrypt(s.accessToken, binding(s, 'access'));
    // rotation: a token sealed under an older key is re-sealed under the current one
    if (s.keyId !== options.cipher.currentKeyId) {
      const refreshToken = options.cipher.decrypt(s.refreshToken, binding(s, 'refresh'));
      await table.store(
        row,
        {
          accessToken: options.cipher.encrypt(accessToken, binding(s, 'access')),
          refreshToken: options.cipher.encrypt(refreshToken, binding(s, 'refresh')),
          keyId: options.cipher.currentKeyId,
          expiresAt: s.expiresAt!,
        },
        false,
      );
    }
    return { row, accessToken };
  };

  async function refreshed(workspaceId: string, ref: string, signal?: AbortSignal): Promise<{ row: R; accessToken: string }> {
    const lockKey = `${options.prefix}:token-refresh:${table.name === 'integration_connections' ? '' : `${table.name}:`}${ref}:${workspaceId}`;
    const me = randomUUID();
    const deadline = now() + options.lockMs * 3;
    for (;;) {
      signal?.throwIfAborted();
      const row = await table.load(workspaceId, ref);
      if (fresh(row)) return usable(row);
      const got = await options.redis.set(lockKey, me, 'PX', options.lockMs, 'NX');
      if (got === 'OK') {
        try {
          // another replica may have finished between our read and our lock
          const current = await table.load(workspaceId, ref);
          if (fresh(current)) return usable(current);
          return await refreshWithLock(current, signal);
        } finally {
          await options.redis.eval(RELEASE, 1, lockKey, me);
        }
      }
      if (now() > deadline) throw new Error(`${table.sealed(row).provider} token refresh of the workspace's connection did not finish in time`);
      // another replica refreshes: wait for its lock to go, then re-read what it stored
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 50));
    }
  }

  async function refreshWithLock(row: R, signal?: AbortSignal): Promise<{ row: R; accessToken: string }> {
    const s = table.sealed(row);
    const client = options.oauth(s.provider);
    if (!client) throw new ConnectionUnavailableError(`${s.provider} OAuth client is not configured on this worker`);
    const refreshToken = options.cipher.decrypt(s.refreshToken, binding(s, 'refresh'));
    let tokens;
    try {
      tokens = await client.refresh(refreshToken, signal);
    } catch (err) {
      if (err instanceof OAuthGrantError) {
        await table.deactivate(row, `${s.provider} refused the stored grant (${err.code}); reconnect the integration`);
        throw new ConnectionUnavailableError(`${s.provider} grant revoked (${err.code}): connection deactivated`, { cause: err });
      }
      throw err;
    }
    const expiresAt = new Date(now() + tokens.expiresInSeconds * 1000);
    const stored = await table.store(
      row,
      {
        accessToken: options.cipher.encrypt(tokens.accessToken, binding(s, 'access')),
        ...(tokens.refreshToken ? { refreshToken: options.cipher.encrypt(tokens.refreshToken, binding(s, 'refresh')) } : {}),
        keyId: options.cipher.currentKeyId,
        expiresAt,
      },
      true,
    );
    if (!stored) throw new ConnectionUnavailableError(`${s.provider} connection was deactivated during the refresh`);
    return { row: table.withExpiry(row, expiresAt), accessToken: tokens.accessToken };
  }

  return {
    async accessToken(workspaceId, ref, signal) {
      const row = await table.load(workspaceId, ref);
      if (fresh(row)) return usable(row);
      // one refresh per row in this process; the Redis lock covers the other replicas
      const key = `${ref}:${workspaceId}`;
      let flight = inProcess.get(key);
      if (!flight) {
        flight = refreshed(workspaceId, ref, signal).finally(() => inProcess.delete(key));
        inProcess.set(key, flight);
      }
      return flight;
    },
  };
}
