import { Connection } from 'jsforce';
import { RetryAfterError } from '@coldcopy/queue-core';
import type { ProviderBudget } from './budgets.js';

/**
 * Salesforce REST through jsforce (providers.md §8), version pinned (jsforce defaults to 50.0):
 * upsert by external id through sObject Collections (≤ 200 per call, `allOrNone: false`, ordered
 * results kept per record), SOQL for the `SystemModstamp` cursor, the `deleted` window. Tokens come
 * from the TokenManager (one refresh across replicas), so jsforce gets only an access token and
 * never refreshes on its own. After every call the org's `Sforce-Limit-Info` usage (jsforce's
 * `limitInfo`) feeds the shared budget: near the 24-hour limit the org is held;
 * `REQUEST_LIMIT_EXCEEDED` holds it and retries later.
 */
export interface SalesforceAccount {
  readonly orgId: string;
  readonly instanceUrl: string;
  readonly accessToken: string;
}

export interface SalesforceUpsertResult {
  readonly id?: string;
  readonly success: boolean;
  readonly created?: boolean;
  readonly errors: ReadonlyArray<{ statusCode?: string; message?: string }>;
}

export interface SalesforceApi {
  upsert(
    account: SalesforceAccount,
    sobject: string,
    externalIdField: string,
    records: ReadonlyArray<Record<string, string | null>>,
    signal?: AbortSignal,
  ): Promise<SalesforceUpsertResult[]>;
  query(account: SalesforceAccount, soql: string, signal?: AbortSignal): Promise<Array<Record<string, string | null>>>;
  deleted(account: SalesforceAccount, sobject: string, start: Date, end: Date, signal?: AbortSignal): Promise<{ ids: string[]; latestDateCovered: Date }>;
  /** deletes records by id through sObject Collections (≤ 200, `allOrNone: false`), one result per id in order */
  destroy(account: SalesforceAccount, sobject: string, ids: readonly string[], signal?: AbortSignal): Promise<SalesforceUpsertResult[]>;
}

export interface SalesforceClientOptions {
  readonly version: string;
  readonly budget: ProviderBudget;
  /** wait after REQUEST_LIMIT_EXCEEDED */
  readonly limitBackoffMs: number;
  /** share of the 24-hour limit after which the org is held for `limitBackoffMs` */
  readonly usageCeiling: number;
}

export class SalesforceAuthError extends Error {
  override name = 'SalesforceAuthError';
}

export function createSalesforceClient(options: SalesforceClientOptions): SalesforceApi {
  async function call<T>(account: SalesforceAccount, signal: AbortSignal | undefined, fn: (conn: Connection) => Promise<T>): Promise<T> {
    const key = `salesforce:${account.orgId}`;
    await options.budget.take(key, 'salesforce', signal);
    const conn = new Connection({ instanceUrl: account.instanceUrl, accessToken: account.accessToken, version: options.version });
    try {
      return await fn(conn);
    } catch (err) {
      const code = (err as { errorCode?: string }).errorCode;
      if (code === 'REQUEST_LIMIT_EXCEEDED') {
        await options.budget.hold(key, options.limitBackoffMs);
        throw new RetryAfterError(options.limitBackoffMs, 'Salesforce REQUEST_LIMIT_EXCEEDED');
      }
      if (code === 'INVALID_SESSION_ID' || code === 'ERROR_HTTP_401') throw new SalesforceAuthError('Salesforce refused the access token (401)');
      throw new Error(`Salesforce ${code ?? 'error'}: ${String((err as Error).message).slice(0, 300)}`, { cause: err });
    } finally {
      const usage = conn.limitInfo?.apiUsage;
      if (usage && usage.limit > 0 && usage.used / usage.limit >= options.usageCeiling) await options.budget.hold(key, options.limitBackoffMs);
    }
  }
  return {
    upsert: (account, sobject, field, records, signal) =>
      call(account, signal, async (conn) => {
        const results = (await conn.sobject(sobject).upsert(records.map((r) => ({ ...r })) as never, field, { allOrNone: false })) as unknown;
        return (Array.isArray(results) ? results : [results]) as SalesforceUpsertResult[];
      }),
    query: (account, soql, signal) =>
      call(account, signal, async (conn) => {
        const result = await conn.query<Record<string, string | null>>(soql, { autoFetch: false });
        return result.records.map(({ attributes: _a, ...r }) => r as Record<string, string | null>);
      }),
    destroy: (account, sobject, ids, signal) =>
      call(account, signal, async (conn) => {
        const results = (await conn.sobject(sobject).destroy([...ids], { allOrNone: false })) as unknown;
        return (Array.isArray(results) ? results : [results]) as SalesforceUpsertResult[];
      }),
    deleted: (account, sobject, start, end, signal) =>
      call(account, signal, async (conn) => {
        const r = await conn.sobject(sobject).deleted(start, end);
        return { ids: (r.deletedRecords ?? []).map((d) => d.id), latestDateCovered: new Date(r.latestDateCovered) };
      }),
  };
}
