import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { EnrichmentDeps } from '../deps.js';
import { batchEnrichHandler } from './batch-enrich.js';
import { companyEnrichHandler } from './company-enrich.js';
import { enrichLeadHandler } from './enrich-lead.js';
import { verifyEmailHandler } from './verify-email.js';

/** One handler per enrichment job: a missing or mistyped one fails to compile. */
export const handlers = {
  'enrich-lead': enrichLeadHandler,
  'batch-enrich': batchEnrichHandler,
  'verify-email': verifyEmailHandler,
  'company-enrich': companyEnrichHandler,
} satisfies HandlersFor<'enrichment', EnrichmentDeps>;
