import { describe, expect, it } from 'vitest';
import { cacheKey, canonicalPerson, companyCacheKey, normaliseDomain, personCacheKey, sha256, verifyCacheKey, websiteDomain } from './cache-key.js';
import { checkAddress, isDisposableDomain } from './email-checks.js';
import { leadFields, personQuery, personRecords } from './lead-mapping.js';

describe('cache keys', () => {
  it('are provider + kind + SHA-256 of the canonical input, never the input', () => {
    const key = personCacheKey('hunter', { email: 'Jane.Doe@Acme.com ' });
    expect(key).toBe(`hunter:person:${sha256('email\njane.doe@acme.com')}`);
    expect(key).not.toMatch(/jane|acme/i);
    expect(companyCacheKey('apollo', 'https://www.ACME.com/about')).toBe(cacheKey('apollo', 'company', 'acme.com'));
    expect(verifyCacheKey('hunter', ' X@Y.io')).toBe(`hunter:verify:${sha256('x@y.io')}`);
  });
  it('identify a person by address, else by name and domain; other hints do not change the key', () => {
    expect(canonicalPerson({ email: 'a@b.com', linkedinUrl: 'https://x' })).toBe(canonicalPerson({ email: 'A@B.com' }));
    expect(canonicalPerson({ firstName: 'Jane ', lastName: 'DOE', domain: 'www.acme.com' })).toBe('name\njane\ndoe\nacme.com');
  });
  it('normalise domains and websites', () => {
    expect(normaliseDomain('HTTP://www.Acme.com:443/x')).toBe('acme.com');
    expect(websiteDomain('https://www.acme.co.uk/about')).toBe('acme.co.uk');
    expect(websiteDomain('not a site')).toBeUndefined();
  });
});

describe('local address checks', () => {
  it('syntax, disposable domains (and their subdomains), role addresses', () => {
    expect(checkAddress('bad@@x.com')).toEqual({ kind: 'invalid', reasons: ['syntax'] });
    expect(checkAddress(`${'a'.repeat(65)}@acme.com`)).toEqual({ kind: 'invalid', reasons: ['syntax'] });
    expect(checkAddress('temp@mailinator.com').kind).toBe('disposable');
    expect(isDisposableDomain('eu.mailinator.com')).toBe(true);
    expect(checkAddress('Sales@Acme.com')).toEqual({ kind: 'ok', role: true, domain: 'acme.com', reasons: ['role'] });
    expect(checkAddress('jane.doe+news@acme.com')).toEqual({ kind: 'ok', role: false, domain: 'acme.com', reasons: [] });
  });
});

describe('lead mapping', () => {
  const lead = { email: 'jane@gmail.com', first_name: 'Jane', last_name: 'Doe', company: 'Acme', website: null, linkedin_url: null };
  it('asks with the job hints first, and never uses a webmail domain as the company domain', () => {
    expect(personQuery(lead)).toEqual({
      email: 'jane@gmail.com',
      firstName: 'Jane',
      lastName: 'Doe',
      companyName: 'Acme',
      domain: undefined,
      linkedinUrl: undefined,
    });
    expect(personQuery({ ...lead, email: 'jane@acme.com' }).domain).toBe('acme.com');
    expect(personQuery(lead, { domain: 'www.acme.io', firstName: 'J' })).toMatchObject({ domain: 'acme.io', firstName: 'J' });
  });
  it('writes only the requested types that have data', () => {
    const at = new Date('2027-01-01T00:00:00Z');
    const records = personRecords(['email', 'phone', 'company_info'], { email: 'j@acme.com', emailConfidence: 0.95, companyName: 'Acme' }, at);
    expect(records).toEqual([
      { dataType: 'email', data: { email: 'j@acme.com', confidence: 0.95 }, confidence: 0.95, verificationStatus: 'verified', expiresAt: at },
      { dataType: 'company_info', data: { name: 'Acme' }, confidence: undefined, verificationStatus: undefined, expiresAt: at },
    ]);
    expect(leadFields({ companyDomain: 'acme.com', title: 'CTO' })).toMatchObject({ website: 'https://acme.com', title: 'CTO' });
  });
});
