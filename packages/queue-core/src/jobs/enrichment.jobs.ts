import { z } from 'zod';
import { sha256Hex, sortedUnique, email, shortText } from './fields.js';
import { defineJob } from '../definitions/define-job.js';

/**
 * Enrichment queue: lead and company enrichment, email verification (domain.md §5,
 * providers.md §6). Providers are `enrichment_providers` rows, referenced by id.
 */

/** `enriched_data.data_type` values a caller may ask for. */
const ENRICHMENT_TYPES = [
  'email',
  'phone',
  'company_info',
  'social_profiles',
  'job_history',
  'technologies',
  'funding',
  'news',
  'intent_signals',
  'contact_info',
  'demographics',
] as const;

const enrichmentTypes = z.array(z.enum(ENRICHMENT_TYPES)).min(1).max(ENRICHMENT_TYPES.length);
const leadIds = z.array(z.uuid()).min(1).max(1000);
/** A registrable host name such as `acme.com` (no scheme, path or port). */
const domainName = z
  .string()
  .max(253)
  .regex(/^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'expected a domain such as acme.com');

/** Order-independent: the same set of types always yields the same key parts. */

/** Enriches one lead with one provider. */
export const enrichLead = defineJob({
  name: 'enrich-lead',
  queue: 'enrichment',
  description: 'Enrich one lead with one provider: cache, credits, enriched_data and mapped lead fields',
  scope: 'workspace',
  payload: {
    leadId: z.uuid(),
    providerId: z.uuid(),
    enrichmentTypes,
    // Optional (domain.md lists it): the worker reads the lead row anyway; these hints only
    // override or complete it, e.g. a domain the user typed. Kept small: job data is not storage.
    /** lookup hints that take precedence over the lead row */
    inputData: z
      .object({
        email: email.optional(),
        firstName: shortText.optional(),
        lastName: shortText.optional(),
        companyName: shortText.optional(),
        domain: domainName.optional(),
        linkedinUrl: z
          .url({ protocol: /^https?$/ })
          .max(500)
          .optional(),
      })
      .optional(),
    /**
     * POSTed to once the lead is enriched (domain.md: "optional webhook POST that cannot fail the
     * job"): https only; the worker refuses loopback and private addresses unless allowed for
     * development
     */
    callbackUrl: z
      .url({ protocol: /^https$/ })
      .max(2000)
      .optional(),
    // Optional: set by the worker itself (jobs queued before these fields existed still validate).
    /** the batch this child belongs to (batch-enrich's fan-out) */
    enrichmentJobId: z.uuid().optional(),
    /**
     * the logical request this job carries on: its credit-ledger key. Set by batch-enrich and by a
     * re-queue after a provider's rate answer, so that the request is charged once however many
     * Bull jobs it takes.
     */
    requestKey: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,200}$/)
      .optional(),
    /** how many times the request was re-queued after a rate or "still running" answer */
    deferrals: z.number().int().min(1).max(1000).optional(),
  },
  idempotencyKey: (p) => [p.workspaceId, p.leadId, p.providerId, ...sortedUnique(p.enrichmentTypes)],
  // no clear-text address or name in Redis, logs or dead letters (job-security.ts)
  sensitive: ['inputData.email', 'inputData.firstName', 'inputData.lastName', 'callbackUrl'],
});

/** Fans out enrich-lead for a durable `enrichment_jobs` batch. */
export const batchEnrich = defineJob({
  name: 'batch-enrich',
  queue: 'enrichment',
  description: 'Fan out enrich-lead children for one enrichment_jobs batch and aggregate progress',
  scope: 'workspace',
  payload: {
    /** the `enrichment_jobs` row that records this batch */
    enrichmentJobId: z.uuid(),
    // Optional: a batch larger than 1,000 leads keeps its list on the enrichment_jobs row only
    // (job data is not storage); given, it must match that row's leads or be a subset of them.
    /** the leads to enrich; absent: the `enrichment_jobs` row's `lead_ids` */
    leadIds: leadIds.optional(),
    providerId: z.uuid(),
    enrichmentTypes,
  },
  idempotencyKey: (p) => [p.enrichmentJobId],
  // The batch job waits for its children (progress on enrichment_jobs and the Bull job); a batch
  // of 1,000 leads at a provider's 8 requests/s takes minutes, so its budget is hours, not the
  // queue's 60 s. A worker that dies mid-wait leaves it stalled; the next one resumes it.
  options: { timeoutMs: 6 * 3_600_000 },
});

/**
 * Verifies addresses, given directly or through leads. At least one of `emails` and `leadIds`
 * must be given (both may be): defineJob cannot express cross-field rules, so the handler fails
 * permanently when both are missing.
 */
export const verifyEmail = defineJob({
  name: 'verify-email',
  queue: 'enrichment',
  description: 'Verify email addresses (MX/SMTP via the provider) and update lead email_status',
  scope: 'workspace',
  payload: {
    emails: z.array(email).min(1).max(1000).optional(),
    /** verify the current address of each of these leads */
    leadIds: leadIds.optional(),
    /** default: the workspace's verification provider */
    providerId: z.uuid().optional(),
    /** set by the worker when it re-queues addresses after Hunter's 202/222 or a rate answer */
    deferrals: z.number().int().min(1).max(1000).optional(),
  },
  // domain.md: `verify:{ws}:{sha256(email)}`. For a batch, the hash covers the sorted set of
  // targets (addresses lower-cased, leads as `lead:<id>`); for one address it is sha256(address).
  idempotencyKey: (p) => [
    p.workspaceId,
    sha256Hex(sortedUnique([...(p.emails ?? []).map((e) => e.trim().toLowerCase()), ...(p.leadIds ?? []).map((id) => `lead:${id}`)]).join('\n')),
  ],
  // addresses only as envelopes in Redis, logs and dead letters (job-security.ts)
  sensitive: ['emails[]'],
});

/**
 * A company to look up: by domain (preferred), or by name alone (the worker skips names it cannot
 * resolve to a domain).
 */
const company = z.union([
  z.object({ domain: domainName, name: shortText.optional() }),
  // strict, so that `{ domain: 'not a domain', name }` fails instead of losing its domain
  z.strictObject({ name: shortText }),
]);

/** Enriches companies (firmographics) and attaches the result to leads at each domain. */
export const companyEnrich = defineJob({
  name: 'company-enrich',
  queue: 'enrichment',
  description: 'Enrich companies by domain and attach company_info to the leads at each domain',
  scope: 'workspace',
  payload: {
    companies: z.array(company).min(1).max(100),
    providerId: z.uuid(),
    /** attach results to these leads only (default: every lead of the workspace at the domain) */
    leadIds: leadIds.optional(),
    /** set by the worker when it re-queues the job after a provider's rate answer */
    deferrals: z.number().int().min(1).max(1000).optional(),
  },
  // domain.md: `company:{providerId}:{domain}`. Here: the workspace (the same domain in two
  // workspaces is two jobs), the provider, and a hash of the sorted companies and target leads.
  idempotencyKey: (p) => {
    const companies = p.companies.map((c) => ('domain' in c ? c.domain.toLowerCase() : `name:${c.name.toLowerCase()}`));
    const targets = JSON.stringify([sortedUnique(companies), sortedUnique(p.leadIds ?? [])]);
    return [p.workspaceId, p.providerId, sha256Hex(targets)];
  },
});

export const enrichmentJobs = [enrichLead, batchEnrich, verifyEmail, companyEnrich] as const;
