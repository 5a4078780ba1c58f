import { Client } from '@hubspot/api-client';
import { RetryAfterError } from '@coldcopy/queue-core';
import { msUntilMidnight } from '../domain/time.js';
import type { ProviderBudget } from './budgets.js';

/**
 * HubSpot CRM v3 through `@hubspot/api-client` (providers.md §7). Calls go through the SDK's
 * `apiRequest` (auth, basePath, user agent), not its generated batch and search APIs, because the
 * sync needs what those hide: the 207 multi-status `errors[]` next to `results[]`, the 429
 * `policyName`, and the `X-HubSpot-RateLimit-*` headers that feed the shared budget. The SDK's own
 * Bottleneck limiter and retries are off (`numberOfApiCallRetries: 0`, no `limiterOptions`): the
 * budget is shared by every replica through Redis instead.
 */
export interface HubspotRecord {
  readonly id: string;
  readonly properties: Record<string, string | null>;
  readonly updatedAt: string;
}

export interface HubspotUpsertInput {
  /** the idProperty's value */
  readonly id: string;
  readonly idProperty: string;
  readonly properties: Record<string, string>;
}

export interface HubspotRowError {
  readonly message: string;
  readonly category: string;
  /** the idProperty values the error is about */
  readonly ids: readonly string[];
}

export interface HubspotBatchResult {
  readonly results: ReadonlyArray<HubspotRecord & { new: boolean }>;
  readonly errors: readonly HubspotRowError[];
}

export interface HubspotSearchRequest {
  /** lastmodifieddate >= since */
  readonly since: Date;
  readonly after?: string;
  readonly limit: number;
  readonly properties: readonly string[];
  readonly modifiedProperty: string;
}

export interface HubspotSearchPage {
  readonly total: number;
  readonly results: readonly HubspotRecord[];
  readonly after?: string;
}

export interface HubspotAccount {
  readonly portalId: string;
  readonly accessToken: string;
  /** IANA zone of the portal (DAILY limit resets at its midnight) */
  readonly timeZone: string;
}

/** One email engagement to log (providers.md §7: CRM v3 `emails`), associated to one contact. */
export interface HubspotEmailInput {
  /** ColdCopy's id of the email (`coldcopy_email_id`, also the input's `objectWriteTraceId`) */
  readonly coldcopyId: string;
  readonly contactId: string;
  readonly properties: Record<string, string>;
}

export interface HubspotCreateResult {
  /** HubSpot id by ColdCopy id */
  readonly created: ReadonlyMap<string, string>;
  /** per-input errors (a 207), by ColdCopy id */
  readonly errors: ReadonlyArray<{ readonly coldcopyId: string; readonly category: string; readonly message: string }>;
}

/** HubSpot-defined association type email → contact */
export const EMAIL_TO_CONTACT = 198;
/** the email engagement property holding ColdCopy's id (the drain looks a batch in doubt up by it) */
export const COLDCOPY_EMAIL_ID = 'coldcopy_email_id';

/**
 * The definition of `coldcopy_email_id` on email engagements. Not `hasUniqueValue`: unique-value
 * properties serve as upsert keys (contacts' `coldcopy_lead_id`), engagements are only created, and
 * whether HubSpot accepts one on engagements is not established; the drain does not rely on it
 * (it searches for an email in doubt before creating it again).
 */
const EMAIL_PROPERTY = {
  name: COLDCOPY_EMAIL_ID,
  label: 'ColdCopy email ID',
  description: 'ColdCopy id of the sent email or reply this engagement logs (set by the ColdCopy integration)',
  type: 'string',
  fieldType: 'text',
  groupName: 'emailinformation',
};

export interface HubspotArchivedPage {
  readonly results: ReadonlyArray<{ readonly id: string; readonly archivedAt: string }>;
  readonly after?: string;
}

export interface HubspotApi {
  batchUpsert(account: HubspotAccount, objectType: string, inputs: readonly HubspotUpsertInput[], signal?: AbortSignal): Promise<HubspotBatchResult>;
  search(account: HubspotAccount, objectType: string, request: HubspotSearchRequest, signal?: AbortSignal): Promise<HubspotSearchPage>;
  /** archives records by id (≤ 100; restorable in HubSpot for 90 days; unknown ids are ignored) */
  batchArchive(account: HubspotAccount, objectType: string, ids: readonly string[], signal?: AbortSignal): Promise<void>;
  /** deletes one record for good (GDPR); false when HubSpot no longer holds it */
  gdprDelete(account: HubspotAccount, objectType: string, id: string, signal?: AbortSignal): Promise<boolean>;
  /** logs up to 100 emails by `emails/batch/create`, each associated inline to its contact */
  createEmails(account: HubspotAccount, inputs: readonly HubspotEmailInput[], signal?: AbortSignal): Promise<HubspotCreateResult>;
  /**
   * makes sure the portal's email engagements have the `coldcopy_email_id` property (creates and
   * searches naming it are refused with a 400 until they do): `GET` the property, on 404 create it
   */
  ensureEmailProperty(account: HubspotAccount, signal?: AbortSignal): Promise<'exists' | 'created'>;
  /** the logged emails among these ColdCopy ids (≤ 100): HubSpot id by ColdCopy id */
  findEmails(account: HubspotAccount, coldcopyIds: readonly string[], signal?: AbortSignal): Promise<Map<string, string>>;
  /** one page (≤ 100) of archived records, `GET /crm/v3/objects/{type}?archived=true` */
  listArchived(account: HubspotAccount, objectType: string, page: { after?: string; limit: number }, signal?: AbortSignal): Promise<HubspotArchivedPage>;
}

/** A 429: `TEN_SECONDLY_ROLLING` waits about ten seconds, `DAILY` until the portal's midnight. */
export class HubspotRateLimitError extends RetryAfterError {
  override name = 'RetryAfterError';
  constructor(
    readonly policy: string,
    retryAfterMs: number,
  ) {
    super(retryAfterMs, `HubSpot rate limit ${policy}: retry in ${retryAfterMs} ms`);
  }
}

/** HubSpot refused the request itself (4xx other than 401/429): the batch is wrong, not the moment. */
export class HubspotRequestError extends Error {
  override name = 'HubspotRequestError';
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
  ) {
    super(`HubSpot ${status} ${category}: ${message}`);
  }
}

/** 401: the token was refused (HubSpot: not a refresh signal; an uninstalled app shows up at the next refresh). */
export class HubspotAuthError extends Error {
  override name = 'HubspotAuthError';
}

export interface HubspotClientOptions {
  readonly basePath: string;
  readonly budget: ProviderBudget;
  readonly timeoutMs: number;
  readonly tenSecondlyWaitMs: number;
  readonly now?: () => Date;
}

const num = (v: string | null) => (v === null ? NaN : Number(v));

export function createHubspotClient(options: HubspotClientOptions): HubspotApi {
  const now = options.now ?? (() => new Date());

  async function call(
    account: HubspotAccount,
    kind: 'hubspot' | 'hubspot-search',
    path: string,
    body: unknown,
    signal?: AbortSignal,
    opts: { allow?: readonly number[]; method?: 'GET' | 'POST' } = {},
  ): Promise<{ status: number; json: unknown }> {
    const budgetKey = `hubspot:${account.portalId}`;
    await options.budget.take(budgetKey, kind, signal);
    // search has its own per-second limit, and both count against the ten-second one
    if (kind === 'hubspot-search') await options.budget.take(budgetKey, 'hubspot', signal);
    const client = new Client({ accessToken: account.accessToken, basePath: options.basePath, numberOfApiCallRetries: 0 });
    const res = await withTimeout(
      client.apiRequest({ method: opts.method ?? 'POST', path, ...(body === undefined ? {} : { body }) }),
      options.timeoutMs,
      signal,
    );
    const max = num(res.headers.get('x-hubspot-ratelimit-max'));
    const remaining = num(res.headers.get('x-hubspot-ratelimit-remaining'));
    const interval = num(res.headers.get('x-hubspot-ratelimit-interval-milliseconds'));
    if (Number.isFinite(remaining)) await options.budget.observe(budgetKey, { remaining, max, intervalMs: interval });
    const json = await res.json().catch(() => ({}));
    if (res.status === 429) {
      const policy = String((json as { policyName?: unknown }).policyName ?? 'TEN_SECONDLY_ROLLING');
      const wait = policy === 'DAILY' ? msUntilMidnight(now(), account.timeZone) : options.tenSecondlyWaitMs;
      await options.budget.hold(budgetKey, wait);
      throw new HubspotRateLimitError(policy, wait);
    }
    if (res.status === 401) throw new HubspotAuthError('HubSpot refused the access token (401)');
    if (res.status >= 500) throw new Error(`HubSpot ${res.status} on ${path}`);
    if (opts.allow?.includes(res.status)) return { status: res.status, json };
    if (res.status >= 400) {
      const e = json as { category?: unknown; message?: unknown };
      throw new HubspotRequestError(res.status, String(e.category ?? 'UNKNOWN'), String(e.message ?? '').slice(0, 300));
    }
    return { status: res.status, json };
  }

  return {
    async batchUpsert(account, objectType, inputs, signal) {
      const { json } = await call(account, 'hubspot', `/crm/v3/objects/${objectType}/batch/upsert`, { inputs }, signal);
      const body = json as {
        results?: Array<HubspotRecord & { new?: boolean }>;
        errors?: Array<{ message?: string; category?: string; context?: { ids?: string[] } }>;
      };
      return {
        results: (body.results ?? []).map((r) => ({ id: String(r.id), properties: r.properties ?? {}, updatedAt: String(r.updatedAt), new: r.new === true })),
        errors: (body.errors ?? []).map((e) => ({
          message: String(e.message ?? 'error'),
          category: String(e.category ?? 'UNKNOWN'),
          ids: (e.context?.ids ?? []).map(String),
        })),
      };
    },
    async batchArchive(account, objectType, ids, signal) {
      await call(account, 'hubspot', `/crm/v3/objects/${objectType}/batch/archive`, { inputs: ids.map((id) => ({ id })) }, signal);
    },
    async gdprDelete(account, objectType, id, signal) {
      const { status } = await call(account, 'hubspot', `/crm/v3/objects/${objectType}/gdpr-delete`, { objectId: id }, signal, { allow: [404] });
      return status !== 404;
    },
    async createEmails(account, inputs, signal) {
      const { json } = await call(
        account,
        'hubspot',
        '/crm/v3/objects/emails/batch/create',
        {
          inputs: inputs.map((i) => ({
            properties: { ...i.properties, [COLDCOPY_EMAIL_ID]: i.coldcopyId },
            associations: [{ to: { id: i.contactId }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: EMAIL_TO_CONTACT }] }],
            objectWriteTraceId: i.coldcopyId,
          })),
        },
        signal,
      );
      const body = json as {
        results?: Array<{ id?: unknown; properties?: Record<string, string | null> }>;
        errors?: Array<{ message?: string; category?: string; context?: { objectWriteTraceId?: string[] } }>;
      };
      const created = new Map<string, string>();
      for (const r of body.results ?? []) {
        const key = r.properties?.[COLDCOPY_EMAIL_ID];
        if (key) created.set(String(key), String(r.id));
      }
      const errors = (body.errors ?? []).flatMap((e) =>
        (e.context?.objectWriteTraceId ?? []).map((coldcopyId) => ({
          coldcopyId: String(coldcopyId),
          category: String(e.category ?? 'UNKNOWN'),
          message: String(e.message ?? 'error').slice(0, 300),
        })),
      );
      return { created, errors };
    },
    async ensureEmailProperty(account, signal) {
      const path = `/crm/v3/properties/emails/${COLDCOPY_EMAIL_ID}`;
      const { status } = await call(account, 'hubspot', path, undefined, signal, { method: 'GET', allow: [404] });
      if (status !== 404) return 'exists';
      // a 409: created meanwhile (another worker, or a user)
      const created = await call(account, 'hubspot', '/crm/v3/properties/emails', EMAIL_PROPERTY, signal, { allow: [409] });
      return created.status === 409 ? 'exists' : 'created';
    },
    async findEmails(account, coldcopyIds, signal) {
      const { json } = await call(
        account,
        'hubspot-search',
        '/crm/v3/objects/emails/search',
        {
          filterGroups: [{ filters: [{ propertyName: COLDCOPY_EMAIL_ID, operator: 'IN', values: [...coldcopyIds] }] }],
          properties: [COLDCOPY_EMAIL_ID],
          limit: 100,
        },
        signal,
      );
      const found = new Map<string, string>();
      for (const r of (json as { results?: HubspotRecord[] }).results ?? []) {
        const key = r.properties?.[COLDCOPY_EMAIL_ID];
        if (key) found.set(String(key), String(r.id));
      }
      return found;
    },
    async listArchived(account, objectType, page, signal) {
      const query = new URLSearchParams({ archived: 'true', limit: String(page.limit), ...(page.after ? { after: page.after } : {}) });
      const { json } = await call(account, 'hubspot', `/crm/v3/objects/${objectType}?${query.toString()}`, undefined, signal, { method: 'GET' });
      const body = json as { results?: Array<{ id?: unknown; archivedAt?: unknown }>; paging?: { next?: { after?: string } } };
      return {
        results: (body.results ?? []).map((r) => ({ id: String(r.id), archivedAt: String(r.archivedAt ?? '') })),
        ...(body.paging?.next?.after ? { after: String(body.paging.next.after) } : {}),
      };
    },
    async search(account, objectType, request, signal) {
      const { json } = await call(
        account,
        'hubspot-search',
        `/crm/v3/objects/${objectType}/search`,
        {
          filterGroups: [{ filters: [{ propertyName: request.modifiedProperty, operator: 'GTE', value: String(request.since.getTime()) }] }],
          sorts: [{ propertyName: request.modifiedProperty, direction: 'ASCENDING' }],
          properties: request.properties,
          limit: request.limit,
          ...(request.after ? { after: request.after } : {}),
        },
        signal,
      );
      const body = json as { total?: number; results?: HubspotRecord[]; paging?: { next?: { after?: string } } };
      return {
        total: Number(body.total ?? 0),
        results: (body.results ?? []).map((r) => ({ id: String(r.id), properties: r.properties ?? {}, updatedAt: String(r.updatedAt) })),
        ...(body.paging?.next?.after ? { after: String(body.paging.next.after) } : {}),
      };
    },
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HubSpot request timed out after ${ms} ms`)), ms);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  try {
    return await Promise.race([promise, stop]);
  } finally {
    clearTimeout(timer);
  }
}
