import type { EnrichedRecord, LeadFieldUpdate, LeadRow } from '@coldcopy/db';
import type { PersonData, PersonQuery } from '../providers/enrichment-provider.js';
import { emailDomain, normaliseDomain, websiteDomain } from './cache-key.js';

/** Free-mail domains: an address there says nothing about the person's company. */
const WEBMAIL = new Set([
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'hotmail.com',
  'outlook.com',
  'live.com',
  'icloud.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'gmx.de',
  'web.de',
]);

export interface LeadHints {
  readonly email?: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly companyName?: string;
  readonly domain?: string;
  readonly linkedinUrl?: string;
}

/** What to ask a provider about a lead: the job's hints first, then the lead row. */
export function personQuery(
  lead: Pick<LeadRow, 'email' | 'first_name' | 'last_name' | 'company' | 'website' | 'linkedin_url'>,
  hints: LeadHints = {},
): PersonQuery {
  const email = (hints.email ?? lead.email)?.trim().toLowerCase() || undefined;
  const fromEmail = email ? emailDomain(email) : undefined;
  const domain = hints.domain ? normaliseDomain(hints.domain) : (websiteDomain(lead.website) ?? (fromEmail && !WEBMAIL.has(fromEmail) ? fromEmail : undefined));
  const pick = (a: string | undefined, b: string | null) => (a ?? b ?? '').trim() || undefined;
  return {
    email,
    firstName: pick(hints.firstName, lead.first_name),
    lastName: pick(hints.lastName, lead.last_name),
    companyName: pick(hints.companyName, lead.company),
    domain,
    linkedinUrl: pick(hints.linkedinUrl, lead.linkedin_url),
  };
}

/**
 * enriched_data rows for the requested types, from what the provider returned (a type with no
 * data gets no row).
 */
export function personRecords(types: readonly string[], p: PersonData, expiresAt: Date): EnrichedRecord[] {
  const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const byType: Record<string, Record<string, unknown>> = {
    email: clean({ email: p.email, confidence: p.emailConfidence }),
    phone: clean({ phone: p.phone }),
    contact_info: clean({ email: p.email, phone: p.phone, linkedinUrl: p.linkedinUrl }),
    social_profiles: clean({ linkedinUrl: p.linkedinUrl }),
    company_info: clean({ name: p.companyName, domain: p.companyDomain, industry: p.industry }),
    job_history: clean({ title: p.title, seniority: p.seniority, company: p.companyName }),
    demographics: clean({ location: p.location }),
  };
  const records: EnrichedRecord[] = [];
  for (const type of new Set(types)) {
    const data = byType[type];
    if (!data || Object.keys(data).length === 0) continue;
    records.push({
      dataType: type,
      data,
      confidence: type === 'email' ? p.emailConfidence : undefined,
      verificationStatus: type === 'email' && p.emailConfidence !== undefined ? (p.emailConfidence >= 0.9 ? 'verified' : 'unverified') : undefined,
      expiresAt,
    });
  }
  return records;
}

/** Lead columns to fill where the lead has none yet. */
export function leadFields(p: PersonData): LeadFieldUpdate {
  return {
    first_name: p.firstName,
    last_name: p.lastName,
    title: p.title,
    phone: p.phone,
    linkedin_url: p.linkedinUrl,
    location: p.location,
    company: p.companyName,
    industry: p.industry,
    website: p.companyDomain ? `https://${p.companyDomain}` : undefined,
  };
}
