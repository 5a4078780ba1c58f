import {
  type CompanyData,
  type Endpoint,
  type EnrichmentProvider,
  type Lookup,
  type PersonData,
  type PersonQuery,
  ProviderAccountError,
  ProviderRequestError,
  ProviderRetryError,
  ProviderUnavailableError,
} from './enrichment-provider.js';
import { intHeader, num, type ProviderResponse, requestJson, retryAfterMs, str } from './http.js';
import type { ProviderLimits } from './provider-limits.js';

/**
 * Apollo (providers.md §6): `POST /people/match`, `POST /people/bulk_match` (at most 10),
 * `GET /organizations/enrich`, key in the `x-api-key` header. A 200 without `person` is no match.
 * Limits are per team and per endpoint in fixed minute/hour/day windows; every answer reports what
 * is left (`x-minute-requests-left`, `x-hourly-requests-left`, `x-24-hour-requests-left`), which
 * the limits use to slow down before a 429, and a 429 carries `retry-after`.
 */
export interface ApolloOptions {
  /** `https://api.apollo.io/api/v1`, or an emulator */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly limits: ProviderLimits;
  readonly timeoutMs: number;
  /** re-queue delay after a 429 without retry-after */
  readonly rateLimitRetryMs: number;
}

export const APOLLO_MAX_BULK = 10;

export function createApolloProvider(options: ApolloOptions): EnrichmentProvider {
  const base = options.baseUrl.replace(/\/+$/, '');
  const call = async (endpoint: Endpoint, method: 'GET' | 'POST', path: string, body: unknown, signal: AbortSignal): Promise<Record<string, unknown>> =>
    options.limits.run('apollo', endpoint, signal, async (gate) => {
      const res = await requestJson(
        'apollo',
        `${base}/${path}`,
        { method, headers: { 'x-api-key': options.apiKey, 'cache-control': 'no-cache' }, body },
        options.timeoutMs,
        signal,
        gate,
      );
      options.limits.observe('apollo', endpoint, {
        minute: intHeader(res.headers, 'x-minute-requests-left'),
        hour: intHeader(res.headers, 'x-hourly-requests-left'),
        day: intHeader(res.headers, 'x-24-hour-requests-left'),
        limits: {
          minute: intHeader(res.headers, 'x-rate-limit-minute'),
          hour: intHeader(res.headers, 'x-rate-limit-hourly'),
          day: intHeader(res.headers, 'x-rate-limit-24-hour'),
        },
      });
      if (res.status !== 200) throw apolloError(res, options);
      if (!res.body || typeof res.body !== 'object') throw new ProviderUnavailableError('apollo', res.status, 'answer without a JSON object');
      return res.body as Record<string, unknown>;
    });

  return {
    name: 'apollo',
    maxBulk: APOLLO_MAX_BULK,

    async findPerson(query, signal) {
      const body = await call('person', 'POST', 'people/match', matchParams(query), signal);
      return personLookup(body.person);
    },

    async findPeople(queries, signal) {
      if (queries.length === 0) return [];
      if (queries.length > APOLLO_MAX_BULK) throw new RangeError(`bulk_match takes at most ${APOLLO_MAX_BULK} people, got ${queries.length}`);
      const body = await call('person-bulk', 'POST', 'people/bulk_match', { details: queries.map(matchParams) }, signal);
      const matches = Array.isArray(body.matches) ? body.matches : [];
      return queries.map((_, i) => personLookup(matches[i]));
    },

    async enrichCompany(domain, signal): Promise<Lookup<CompanyData>> {
      const body = await call('company', 'GET', `organizations/enrich?${new URLSearchParams({ domain }).toString()}`, undefined, signal);
      const org = body.organization as Record<string, unknown> | null | undefined;
      if (!org || typeof org !== 'object') return { found: false };
      return {
        found: true,
        credits: 1,
        data: {
          domain: (str(org.primary_domain) ?? domain).toLowerCase(),
          name: str(org.name),
          industry: str(org.industry),
          employees: num(org.estimated_num_employees),
          annualRevenue: num(org.annual_revenue),
          technologies: Array.isArray(org.technology_names) ? org.technology_names.filter((t): t is string => typeof t === 'string') : undefined,
          country: str(org.country),
          linkedinUrl: str(org.linkedin_url),
          description: str(org.short_description),
        },
      };
    },
  };
}

function matchParams(q: PersonQuery): Record<string, string> {
  const params: Record<string, string> = {};
  if (q.email) params.email = q.email;
  if (q.firstName) params.first_name = q.firstName;
  if (q.lastName) params.last_name = q.lastName;
  if (q.domain) params.domain = q.domain;
  if (q.companyName) params.organization_name = q.companyName;
  if (q.linkedinUrl) params.linkedin_url = q.linkedinUrl;
  return params;
}

function personLookup(person: unknown): Lookup<PersonData> {
  if (!person || typeof person !== 'object') return { found: false };
  const p = person as Record<string, unknown>;
  const org = (p.organization && typeof p.organization === 'object' ? p.organization : {}) as Record<string, unknown>;
  const phones = Array.isArray(p.phone_numbers) ? (p.phone_numbers as Array<Record<string, unknown>>) : [];
  const location = [str(p.city), str(p.state), str(p.country)].filter(Boolean).join(', ');
  const email = str(p.email);
  return {
    found: true,
    credits: 1,
    data: {
      email: email?.toLowerCase(),
      emailConfidence: str(p.email_status) === 'verified' ? 0.95 : email ? 0.6 : undefined,
      firstName: str(p.first_name),
      lastName: str(p.last_name),
      title: str(p.title),
      seniority: str(p.seniority),
      phone: str(phones[0]?.sanitized_number) ?? str(phones[0]?.raw_number),
      linkedinUrl: str(p.linkedin_url),
      location: location || undefined,
      companyName: str(org.name),
      companyDomain: str(org.primary_domain),
      industry: str(org.industry),
    },
  };
}

/** Apollo's status codes → the port's errors. */
export function apolloError(res: ProviderResponse, options: Pick<ApolloOptions, 'rateLimitRetryMs'>): Error {
  const { status } = res;
  const message =
    str((res.body as { error?: unknown; message?: unknown } | undefined)?.error) ?? str((res.body as { message?: unknown } | undefined)?.message) ?? '';
  if (status === 429) return new ProviderRetryError('apollo', 'rate-limit', retryAfterMs(res.headers) ?? options.rateLimitRetryMs, 'HTTP 429');
  if (status === 401) return new ProviderAccountError('apollo', 'unauthorized', status);
  // 402, or a 422 saying so: the team has no credits left
  if (status === 402 || (status === 422 && /credit/i.test(message))) return new ProviderAccountError('apollo', 'no-credits', status);
  // 403: the key may not call this endpoint (a non-master key on an enrichment endpoint)
  if (status === 403) return new ProviderAccountError('apollo', 'unauthorized', status);
  if (status === 400 || status === 404 || status === 422) return new ProviderRequestError('apollo', status, '');
  return new ProviderUnavailableError('apollo', status, 'unexpected status');
}
