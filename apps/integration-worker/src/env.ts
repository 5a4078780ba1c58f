import { calendarEnv } from '@coldcopy/calendar/env';
import { dbEnv } from '@coldcopy/db/env';
import { tokenKeysEnv } from '@coldcopy/integration-tokens/env';
import { workerAppEnv } from '@coldcopy/queue-core/env';
import { z } from 'zod';

/**
 * The integration worker's env: its own variables below, merged by `workerAppEnv` with the
 * runtime's (REDIS_URL, BULL_PREFIX, INTEGRATION_CONCURRENCY, …) and the database's; parsed once by
 * runWorkerApp and read by the deploy generator. OAuth client secrets and the token keys are
 * secrets: handed to the adapters, never logged.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

export const integrationWorkerEnv = {
  ...dbEnv,

  ...tokenKeysEnv,

  HUBSPOT_BASE_URL: z.url().default('https://api.hubapi.com').meta({ description: 'HubSpot API base URL (the emulator in development)' }),
  HUBSPOT_TOKEN_URL: z
    .url()
    .default('https://api.hubapi.com/oauth/v3/token')
    .meta({ description: 'HubSpot OAuth v3 token endpoint (v1 is removed on 2027-02-16)' }),
  HUBSPOT_CLIENT_ID: z.string().min(1).optional().meta({ description: 'HubSpot public app client id; unset: HubSpot jobs fail permanently, naming it' }),
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional().meta({ description: 'HubSpot public app client secret', secret: true }),
  HUBSPOT_REQUESTS_PER_10S: int(100).meta({
    description: 'requests per 10 s per portal, shared by all replicas (public apps: 110 per installing account; keep a margin)',
  }),
  HUBSPOT_SEARCH_PER_SECOND: int(4).meta({ description: 'search requests per second per portal, shared by all replicas (HubSpot: 5)' }),
  HUBSPOT_TEN_SECONDLY_WAIT_MS: int(10_000).meta({ description: 'wait after a 429 TEN_SECONDLY_ROLLING answer' }),

  SALESFORCE_TOKEN_URL: z
    .url()
    .default('https://login.salesforce.com/services/oauth2/token')
    .meta({ description: 'Salesforce OAuth token endpoint (`test.salesforce.com` for sandboxes); the instance URL is stored per connection' }),
  SALESFORCE_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Salesforce connected app consumer key; unset: Salesforce jobs fail permanently, naming it' }),
  SALESFORCE_CLIENT_SECRET: z.string().min(1).optional().meta({ description: 'Salesforce connected app consumer secret', secret: true }),
  SALESFORCE_API_VERSION: z
    .string()
    .regex(/^\d{2}\.0$/)
    .default('62.0')
    .meta({ description: 'REST API version (jsforce defaults to 50.0; sObject Collections upsert needs 46.0 or newer)' }),
  SALESFORCE_REQUESTS_PER_SECOND: int(20).meta({ description: 'requests per second per org, shared by all replicas' }),
  SALESFORCE_LIMIT_BACKOFF_MS: int(900_000).meta({
    description: 'hold of an org after REQUEST_LIMIT_EXCEEDED, or when Sforce-Limit-Info usage passes SALESFORCE_USAGE_CEILING',
  }),
  SALESFORCE_USAGE_CEILING: z.coerce
    .number()
    .gt(0)
    .max(1)
    .default(0.95)
    .meta({ description: "share of the org's 24-hour API limit after which the sync holds off" }),

  LINKEDIN_API_URL: z.url().default('https://api.linkedin.com').meta({ description: 'LinkedIn API base URL for OIDC userinfo (the emulator in development)' }),
  LINKEDIN_EXPIRY_NOTICE_DAYS: int(7).meta({
    description: 'days before a LinkedIn sign-in expires (60-day tokens, no refresh for self-serve apps) that its member is asked to sign in again',
  }),

  SYNC_LEASE_MS: int(120_000).meta({
    description: 'lease of a sync state (one pull per workspace, provider and object at a time); renewed with every committed page',
  }),
  SYNC_OVERLAP_MS: int(5_000, 0).meta({
    description: 'timestamp cursors re-read this far back (late commits at the provider); duplicates are dropped by hash',
  }),
  OUTBOX_MAX_ATTEMPTS: int(8).meta({ description: 'a row the provider refused this many times turns `failed`' }),
  OUTBOX_RETRY_MS: int(300_000).meta({ description: 'first wait before a refused outbox row is tried again (doubles per attempt)' }),
  PROVIDER_TIMEOUT_MS: int(30_000).meta({ description: 'per-request timeout of a provider call' }),
  PROVIDER_WAIT_MAX_MS: int(15_000, 0).meta({ description: 'longest in-handler wait for a budget slot; longer waits retry the job later' }),

  ...calendarEnv,
};

export const envSchema = workerAppEnv('integration', integrationWorkerEnv);
