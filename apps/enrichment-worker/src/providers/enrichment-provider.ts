import { PermanentJobError, RetryAfterError } from '@coldcopy/queue-core';

/**
 * The port every enrichment provider implements (Hunter, Apollo; providers.md §6). Our own types:
 * handlers never see a vendor's JSON. Errors are part of the port (code-style.md §5):
 * - ProviderRetryError (a RetryAfterError): a rate answer, "still running" (Hunter 202) or an SMTP
 *   failure (Hunter 222); the handler re-queues the request after `retryAfterMs` without using up
 *   a Bull attempt;
 * - ProviderAccountError (permanent): 401, plan exhausted (Hunter 429), no provider credits; the
 *   handler disables the provider;
 * - ProviderRequestError (permanent): the request itself is refused (400, 422, Hunter 451);
 * - anything else (5xx, network, timeout) is transient: Bull retries with backoff.
 */

export type ProviderName = 'hunter' | 'apollo';
/** A provider's endpoints, as limits and logs name them. */
export type Endpoint = 'person' | 'person-bulk' | 'company' | 'verify';

/** What we know about a person; every field optional. Lower-cased email. */
export interface PersonQuery {
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly domain?: string;
  readonly companyName?: string;
  readonly linkedinUrl?: string;
}

export interface PersonData {
  readonly email?: string;
  /** 0..1 */
  readonly emailConfidence?: number;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly title?: string;
  readonly seniority?: string;
  readonly phone?: string;
  readonly linkedinUrl?: string;
  readonly location?: string;
  readonly companyName?: string;
  readonly companyDomain?: string;
  readonly industry?: string;
}

export interface CompanyData {
  readonly domain: string;
  readonly name?: string;
  readonly industry?: string;
  readonly employees?: number;
  readonly annualRevenue?: number;
  readonly technologies?: readonly string[];
  readonly country?: string;
  readonly linkedinUrl?: string;
  readonly description?: string;
  /** Hunter: the address pattern, e.g. `{first}.{last}` */
  readonly emailPattern?: string;
}

export type VerificationStatus = 'valid' | 'invalid' | 'accept_all' | 'webmail' | 'disposable' | 'unknown';

export interface VerificationData {
  readonly status: VerificationStatus;
  /** 0..1 */
  readonly score?: number;
  readonly mxRecords?: boolean;
  readonly smtpCheck?: boolean;
}

/** A lookup either found something (and cost `credits`) or did not (free). */
export type Lookup<T> = { readonly found: true; readonly data: T; readonly credits: number } | { readonly found: false };

export interface EnrichmentProvider {
  readonly name: ProviderName;
  /** Hunter: email-finder (needs a name and a domain); Apollo: people/match. */
  findPerson(query: PersonQuery, signal: AbortSignal): Promise<Lookup<PersonData>>;
  /**
   * Several people in one request where the provider has a bulk endpoint (Apollo bulk_match,
   * at most `maxBulk`), in input order. Absent: one findPerson per query.
   */
  findPeople?(queries: readonly PersonQuery[], signal: AbortSignal): Promise<Array<Lookup<PersonData>>>;
  readonly maxBulk?: number;
  /** Hunter: domain-search; Apollo: organizations/enrich. */
  enrichCompany(domain: string, signal: AbortSignal): Promise<Lookup<CompanyData>>;
  /** Hunter's email-verifier; absent on providers without one. */
  verifyEmail?(email: string, signal: AbortSignal): Promise<VerificationData>;
}

export type RetryReason = 'rate-limit' | 'pending' | 'smtp-failure' | 'unavailable';

/** Try the same request again after `retryAfterMs` (keeps RetryAfterError's name for the backoff). */
export class ProviderRetryError extends RetryAfterError {
  constructor(
    readonly provider: ProviderName,
    readonly reason: RetryReason,
    retryAfterMs: number,
    detail: string,
  ) {
    super(Math.max(0, Math.round(retryAfterMs)), `${provider}: ${reason} (${detail}), retry in ${Math.round(retryAfterMs)} ms`);
  }
}

export type AccountProblem = 'unauthorized' | 'plan-exhausted' | 'no-credits';

/** The provider account cannot serve any request: the provider gets disabled. */
export class ProviderAccountError extends PermanentJobError {
  override name = 'ProviderAccountError';
  constructor(
    readonly provider: ProviderName,
    readonly problem: AccountProblem,
    readonly status: number,
  ) {
    super(`${provider}: ${problem} (HTTP ${status})`);
  }
}

/** This request is refused by the provider and retrying will not change that. */
export class ProviderRequestError extends PermanentJobError {
  override name = 'ProviderRequestError';
  constructor(
    readonly provider: ProviderName,
    readonly status: number,
    readonly code: string,
  ) {
    super(`${provider}: request refused (HTTP ${status}${code ? `, ${code}` : ''})`);
  }
}

/** A transient provider failure (5xx, malformed answer): Bull retries with backoff. */
export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
  constructor(
    readonly provider: ProviderName,
    readonly status: number,
    detail: string,
  ) {
    super(`${provider}: unavailable (HTTP ${status}, ${detail})`);
  }
}
