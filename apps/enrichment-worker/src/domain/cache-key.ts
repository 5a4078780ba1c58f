import { createHash } from 'node:crypto';
import type { PersonQuery, ProviderName } from '../providers/enrichment-provider.js';

/**
 * Cache keys (providers.md §6): provider + kind + SHA-256 of the canonical normalised input. The
 * input (an address, a name, a domain) never appears in a key, a log line or a Redis key; only its
 * hash does. Canonical: trimmed, lower-cased, fields in a fixed order, absent fields empty.
 */
export type CacheKind = 'person' | 'company' | 'verify';

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const norm = (v: string | undefined) => (v ?? '').normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');

export function normaliseDomain(domain: string): string {
  return norm(domain)
    .replace(/^https?:\/\//, '')
    .replace(/^www\./, '')
    .replace(/[/:?#].*$/, '')
    .replace(/\.$/, '');
}

/**
 * A person's identity for the cache: the lower-cased address when there is one (providers.md §6),
 * else name + domain (or company). Not the other hints: enriching a lead fills its company,
 * website and LinkedIn URL, and the next lookup of the same person must still hit the cache.
 */
export function canonicalPerson(q: PersonQuery): string {
  if (q.email) return `email\n${norm(q.email)}`;
  return ['name', norm(q.firstName), norm(q.lastName), q.domain ? normaliseDomain(q.domain) : norm(q.companyName)].join('\n');
}

export function cacheKey(provider: ProviderName, kind: CacheKind, canonical: string): string {
  return `${provider}:${kind}:${sha256(canonical)}`;
}

export const personCacheKey = (provider: ProviderName, q: PersonQuery) => cacheKey(provider, 'person', canonicalPerson(q));
export const companyCacheKey = (provider: ProviderName, domain: string) => cacheKey(provider, 'company', normaliseDomain(domain));
export const verifyCacheKey = (provider: ProviderName | 'local', email: string) => cacheKey(provider as ProviderName, 'verify', norm(email));

/** The domain part of an address, lower-cased. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  return at > 0 ? normaliseDomain(email.slice(at + 1)) : undefined;
}

/** The host of a website value such as `https://www.acme.com/about`. */
export function websiteDomain(website: string | null | undefined): string | undefined {
  if (!website) return undefined;
  const d = normaliseDomain(website);
  return /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d) ? d : undefined;
}
