import {
  type CompanyData,
  type EnrichmentProvider,
  type Lookup,
  type PersonData,
  ProviderAccountError,
  ProviderRequestError,
  ProviderRetryError,
  ProviderUnavailableError,
  type VerificationData,
  type VerificationStatus,
} from './enrichment-provider.js';
import { num, type ProviderResponse, requestJson, retryAfterMs, str } from './http.js';
import type { ProviderLimits, WireGate } from './provider-limits.js';

/**
 * Hunter.io v2 (providers.md §6): `email-finder`, `domain-search`, `email-verifier`, with the key
 * in the `X-API-KEY` header (never the query string, which ends up in access logs). Hunter's codes
 * are not the usual ones: 403 is the rate limit and 429 the exhausted plan.
 */
export interface HunterOptions {
  /** `https://api.hunter.io/v2`, or an emulator */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly limits: ProviderLimits;
  readonly timeoutMs: number;
  /** re-queue delay after 202 (verification still running: repeat the same call) */
  readonly pendingRetryMs: number;
  /** re-queue delay after 222 (the mail server failed to answer the SMTP check) */
  readonly smtpRetryMs: number;
  /** re-queue delay after 403 (no header says when the window reopens) */
  readonly rateLimitRetryMs: number;
}

const VERIFICATION: ReadonlySet<string> = new Set(['valid', 'invalid', 'accept_all', 'webmail', 'disposable', 'unknown']);

export function createHunterProvider(options: HunterOptions): EnrichmentProvider {
  const base = options.baseUrl.replace(/\/+$/, '');
  const get = async (path: string, params: Record<string, string>, signal: AbortSignal, gate: WireGate): Promise<ProviderResponse> => {
    const url = `${base}/${path}?${new URLSearchParams(params).toString()}`;
    const res = await requestJson('hunter', url, { method: 'GET', headers: { 'x-api-key': options.apiKey } }, options.timeoutMs, signal, gate);
    if (res.status === 200) return res;
    throw hunterError(res, options);
  };

  return {
    name: 'hunter',

    async findPerson(query, signal): Promise<Lookup<PersonData>> {
      // The finder needs a domain (or company) and a name; without them there is nothing to ask.
      if (!query.firstName || !query.lastName || !(query.domain || query.companyName)) return { found: false };
      const params: Record<string, string> = { first_name: query.firstName, last_name: query.lastName };
      if (query.domain) params.domain = query.domain;
      else params.company = query.companyName!;
      const res = await options.limits.run('hunter', 'person', signal, (gate) => get('email-finder', params, signal, gate));
      const data = dataOf(res);
      const email = str(data.email);
      // charged only when an email is found
      if (!email) return { found: false };
      return {
        found: true,
        credits: 1,
        data: {
          email: email.toLowerCase(),
          emailConfidence: scoreOf(data.score),
          firstName: str(data.first_name),
          lastName: str(data.last_name),
          title: str(data.position),
          linkedinUrl: str(data.linkedin_url),
          phone: str(data.phone_number),
          companyName: str(data.company),
          companyDomain: str(data.domain),
        },
      };
    },

    async enrichCompany(domain, signal): Promise<Lookup<CompanyData>> {
      const res = await options.limits.run('hunter', 'company', signal, (gate) => get('domain-search', { domain, limit: '10' }, signal, gate));
      const data = dataOf(res);
      const emails = Array.isArray(data.emails) ? data.emails : [];
      const name = str(data.organization);
      if (!name && emails.length === 0) return { found: false };
      return {
        found: true,
        // 1 credit per 1-10 emails returned
        credits: Math.max(1, Math.ceil(emails.length / 10)),
        data: {
          domain: (str(data.domain) ?? domain).toLowerCase(),
          name,
          industry: str(data.industry),
          employees: headcount(data.headcount),
          technologies: Array.isArray(data.technologies) ? data.technologies.filter((t): t is string => typeof t === 'string') : undefined,
          country: str(data.country),
          linkedinUrl: str(data.linkedin),
          description: str(data.description),
          emailPattern: str(data.pattern),
        },
      };
    },

    async verifyEmail(email, signal): Promise<VerificationData> {
      const res = await options.limits.run('hunter', 'verify', signal, (gate) => get('email-verifier', { email }, signal, gate));
      const data = dataOf(res);
      const status = str(data.status) ?? str(data.result);
      if (!status || !VERIFICATION.has(status)) throw new ProviderUnavailableError('hunter', res.status, 'unexpected verification status');
      return {
        status: status as VerificationStatus,
        score: scoreOf(data.score),
        mxRecords: typeof data.mx_records === 'boolean' ? data.mx_records : undefined,
        smtpCheck: typeof data.smtp_check === 'boolean' ? data.smtp_check : undefined,
      };
    },
  };
}

function dataOf(res: ProviderResponse): Record<string, unknown> {
  const data = (res.body as { data?: unknown } | undefined)?.data;
  if (!data || typeof data !== 'object') throw new ProviderUnavailableError('hunter', res.status, 'answer without data');
  return data as Record<string, unknown>;
}

function scoreOf(v: unknown): number | undefined {
  const n = num(v);
  return n === undefined ? undefined : Math.min(1, Math.max(0, n / 100));
}

/** Hunter's headcount is a range such as `11-50`; we keep the upper bound. */
function headcount(v: unknown): number | undefined {
  const s = str(v);
  const upper = s?.match(/(\d+)\D*$/)?.[1];
  return upper ? Number(upper) : undefined;
}

function errorCode(res: ProviderResponse): string {
  const first = (res.body as { errors?: Array<{ id?: unknown }> } | undefined)?.errors?.[0];
  return typeof first?.id === 'string' ? first.id : '';
}

/** Hunter's status codes → the port's errors (providers.md §6). */
export function hunterError(res: ProviderResponse, options: Pick<HunterOptions, 'pendingRetryMs' | 'smtpRetryMs' | 'rateLimitRetryMs'>): Error {
  const { status } = res;
  switch (status) {
    case 202:
      return new ProviderRetryError('hunter', 'pending', options.pendingRetryMs, 'verification still running');
    case 222:
      return new ProviderRetryError('hunter', 'smtp-failure', options.smtpRetryMs, 'SMTP check failed');
    case 403:
      return new ProviderRetryError('hunter', 'rate-limit', retryAfterMs(res.headers) ?? options.rateLimitRetryMs, 'HTTP 403');
    case 429:
      return new ProviderAccountError('hunter', 'plan-exhausted', status);
    case 401:
      return new ProviderAccountError('hunter', 'unauthorized', status);
    case 451:
      return new ProviderRequestError('hunter', status, errorCode(res) || 'personal-data-restriction');
    case 400:
    case 404:
    case 422:
      return new ProviderRequestError('hunter', status, errorCode(res));
    default:
      return new ProviderUnavailableError('hunter', status, errorCode(res) || 'unexpected status');
  }
}
