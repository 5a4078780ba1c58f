import { type CalendarAccountRow, deactivateCalendarAccount, getCalendarAccount, type Pool, storeCalendarTokens, withTransaction } from '@coldcopy/db';
import { ConnectionUnavailableError, createTokenVault, sealedColumns, type TokenVault, type TokenVaultOptions } from './token-vault.js';

/**
 * Access tokens of calendar accounts (`calendar_accounts`, several per workspace): the same vault as
 * the CRM connections (sealed at rest, refreshed ahead of expiry, single flight across replicas);
 * revoked consent turns the account's sync off (`sync_enabled = false`) with a reconnect notice.
 */
export type CalendarTokens = TokenVault<CalendarAccountRow>;

export function createCalendarTokens(options: TokenVaultOptions & { readonly pool: Pool }): CalendarTokens {
  const { pool } = options;
  return createTokenVault<CalendarAccountRow>(
    {
      name: 'calendar_accounts',
      async load(workspaceId, accountId) {
        const row = await getCalendarAccount(pool, workspaceId, accountId);
        if (!row) throw new ConnectionUnavailableError('calendar account not found in this workspace');
        if (row.status !== 'active' || !row.sync_enabled || !row.access_token_encrypted || !row.refresh_token_encrypted) {
          throw new ConnectionUnavailableError(`${row.provider} calendar account is ${row.sync_enabled ? row.status : 'disabled'}: reconnect it`);
        }
        return row;
      },
      sealed: sealedColumns,
      store: (row, tokens) => storeCalendarTokens(pool, row.workspace_id, row.id, tokens),
      async deactivate(row, message) {
        await withTransaction(pool, (tx) => deactivateCalendarAccount(tx, row.workspace_id, row.id, message));
      },
      withExpiry: (row, expiresAt) => ({ ...row, expires_at: expiresAt }),
    },
    options,
  );
}
