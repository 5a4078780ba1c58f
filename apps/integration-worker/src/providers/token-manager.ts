import {
  deactivateConnection,
  getIntegrationConnection,
  type IntegrationConnectionRow,
  type IntegrationProvider,
  type Pool,
  storeConnectionTokens,
} from '@coldcopy/db';
import { ConnectionUnavailableError, createTokenVault, type OAuthClient, sealedColumns, type TokenVaultOptions } from '@coldcopy/integration-tokens';

export { ConnectionUnavailableError } from '@coldcopy/integration-tokens';

/**
 * Access tokens of CRM connections (`integration_connections`, one per workspace and provider)
 * through the token vault of @coldcopy/integration-tokens (sealed at rest, refreshed ahead of
 * expiry, single flight across replicas, a revoked grant stops the connection with a notice).
 */
export interface ConnectionToken {
  readonly connection: IntegrationConnectionRow;
  readonly accessToken: string;
}

export interface TokenManager {
  accessToken(workspaceId: string, provider: IntegrationProvider, signal?: AbortSignal): Promise<ConnectionToken>;
}

export interface TokenManagerOptions extends Omit<TokenVaultOptions, 'oauth'> {
  readonly pool: Pool;
  readonly oauth: (provider: IntegrationProvider) => OAuthClient | undefined;
}

/** CRM connections: one row per workspace and provider in `integration_connections`. */
export function createTokenManager(options: TokenManagerOptions): TokenManager {
  const { pool } = options;
  const vault = createTokenVault<IntegrationConnectionRow>(
    {
      name: 'integration_connections',
      async load(workspaceId, provider) {
        const row = await getIntegrationConnection(pool, workspaceId, provider as IntegrationProvider);
        if (!row) throw new ConnectionUnavailableError(`workspace has no ${provider} connection`);
        if (row.status !== 'active' || !row.access_token_encrypted || !row.refresh_token_encrypted) {
          throw new ConnectionUnavailableError(`${provider} connection is ${row.status}: reconnect it`);
        }
        return row;
      },
      sealed: sealedColumns,
      store: (row, tokens, refreshed) => storeConnectionTokens(pool, row.workspace_id, row.id, tokens, refreshed),
      async deactivate(row, message) {
        await deactivateConnection(pool, row.workspace_id, row.id, { status: 'revoked', message });
      },
      withExpiry: (row, expiresAt) => ({ ...row, expires_at: expiresAt }),
    },
    { ...options, oauth: (provider) => options.oauth(provider as IntegrationProvider) },
  );
  return {
    async accessToken(workspaceId, provider, signal) {
      const { row, accessToken } = await vault.accessToken(workspaceId, provider, signal);
      return { connection: row, accessToken };
    },
  };
}
