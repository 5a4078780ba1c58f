-- Up Migration
-- Enrichment: global providers and cache, per-workspace credits, requests, results and batch jobs.

CREATE TABLE enrichment_providers (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL UNIQUE,
  type             text NOT NULL CHECK (type IN ('email_finder', 'email_verifier', 'person', 'company', 'phone', 'social', 'multi')),
  api_endpoint     text,
  rate_limits      jsonb NOT NULL DEFAULT '{}'::jsonb,
  cost_per_request numeric(10, 4) NOT NULL DEFAULT 0,
  is_active        boolean NOT NULL DEFAULT true,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Global cache: cache_key = provider + sha256(normalised input). Never holds workspace data.
CREATE TABLE enrichment_cache (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  cache_key   text NOT NULL UNIQUE,
  provider_id uuid REFERENCES enrichment_providers (id) ON DELETE CASCADE,
  query_type  text NOT NULL,
  cached_data jsonb NOT NULL,
  hit_count   integer NOT NULL DEFAULT 0,
  last_hit_at timestamptz,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrichment_cache_expires_idx ON enrichment_cache (expires_at);

CREATE TABLE enrichment_credits (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider_id       uuid NOT NULL REFERENCES enrichment_providers (id) ON DELETE CASCADE,
  credits_available integer NOT NULL DEFAULT 0 CHECK (credits_available >= 0),
  credits_used      integer NOT NULL DEFAULT 0 CHECK (credits_used >= 0),
  monthly_allowance integer NOT NULL DEFAULT 0,
  reset_at          timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider_id)
);

CREATE TABLE enrichment_requests (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  lead_id            uuid REFERENCES leads (id) ON DELETE SET NULL,
  provider_id        uuid REFERENCES enrichment_providers (id) ON DELETE SET NULL,
  request_type       text NOT NULL,
  status             text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled', 'rate_limited')),
  input_data         jsonb NOT NULL DEFAULT '{}'::jsonb,
  credits_used       integer NOT NULL DEFAULT 0,
  processing_time_ms integer,
  error              text,
  bull_job_id        text,
  completed_at       timestamptz,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrichment_requests_workspace_idx ON enrichment_requests (workspace_id, created_at DESC);
CREATE INDEX enrichment_requests_lead_idx ON enrichment_requests (lead_id);

CREATE TABLE enriched_data (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  lead_id             uuid NOT NULL,
  data_type           text NOT NULL,
  provider_id         uuid REFERENCES enrichment_providers (id) ON DELETE SET NULL,
  data                jsonb NOT NULL,
  confidence_score    numeric(4, 3) CHECK (confidence_score BETWEEN 0 AND 1),
  verification_status text CHECK (verification_status IN ('verified', 'unverified', 'invalid', 'risky', 'unknown')),
  expires_at          timestamptz,
  deleted_at          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX enriched_data_lead_type_idx ON enriched_data (lead_id, data_type);
CREATE INDEX enriched_data_expires_idx ON enriched_data (expires_at);
CREATE INDEX enriched_data_workspace_created_idx ON enriched_data (workspace_id, created_at);

-- Durable batch record for batch-enrich; stores the Bull job id.
CREATE TABLE enrichment_jobs (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  requested_by      uuid,
  provider_id       uuid REFERENCES enrichment_providers (id) ON DELETE SET NULL,
  enrichment_types  text[] NOT NULL DEFAULT '{}',
  lead_ids          uuid[] NOT NULL DEFAULT '{}',
  bull_job_id       text,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  total             integer NOT NULL DEFAULT 0,
  processed         integer NOT NULL DEFAULT 0,
  succeeded         integer NOT NULL DEFAULT 0,
  failed            integer NOT NULL DEFAULT 0,
  skipped_cached    integer NOT NULL DEFAULT 0,
  errors            jsonb NOT NULL DEFAULT '[]'::jsonb,
  started_at        timestamptz,
  completed_at      timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX enrichment_jobs_workspace_idx ON enrichment_jobs (workspace_id, created_at DESC);
CREATE INDEX enrichment_jobs_done_idx ON enrichment_jobs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled');

SELECT attach_updated_at_triggers();
