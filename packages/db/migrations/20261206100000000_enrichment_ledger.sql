-- Up Migration
-- Enrichment worker (apps/enrichment-worker): the credit ledger, batch items and provider flags.
--
-- enrichment_ledger: one row per applied enrichment request, written in the same transaction as
-- its result (enriched_data, lead fields, enrichment_requests). `request_key` is the logical
-- request (a batch child is `batch.<enrichment_job_id>.<lead_id>`, a standalone job its first Bull
-- job id), so a retried, re-delivered or re-queued job finds its row and neither writes nor
-- charges again. `credits` is 0 for cache hits and no-match answers: credits are charged only on
-- success, never before the call.
CREATE TABLE enrichment_ledger (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider_id  uuid REFERENCES enrichment_providers (id) ON DELETE SET NULL,
  request_key  text NOT NULL,
  lead_id      uuid,
  outcome      text NOT NULL CHECK (outcome IN ('charged', 'cached', 'no_match')),
  credits      integer NOT NULL DEFAULT 0 CHECK (credits >= 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, request_key)
);
CREATE INDEX enrichment_ledger_workspace_created_idx ON enrichment_ledger (workspace_id, created_at);

-- One row per lead of a batch: the batch's progress is counted from transitions of these rows
-- (pending -> a final state happens once), so re-delivered children never count twice and a
-- re-run batch-enrich enqueues only what is still pending.
CREATE TABLE enrichment_job_items (
  enrichment_job_id uuid NOT NULL REFERENCES enrichment_jobs (id) ON DELETE CASCADE,
  lead_id           uuid NOT NULL,
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'enriched', 'cached', 'no_match', 'failed', 'skipped_no_credits')),
  error             text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (enrichment_job_id, lead_id)
);
CREATE INDEX enrichment_job_items_pending_idx ON enrichment_job_items (enrichment_job_id) WHERE status = 'pending';

-- A batch that ran out of credits stops: the remaining items are skipped and counted here.
ALTER TABLE enrichment_jobs ADD COLUMN no_match integer NOT NULL DEFAULT 0;
ALTER TABLE enrichment_jobs ADD COLUMN skipped_no_credits integer NOT NULL DEFAULT 0;
ALTER TABLE enrichment_jobs ADD COLUMN stop_reason text;

-- Provider flags: a 401, an exhausted plan or no provider credits disables the provider (its key
-- is global, from env) until someone clears the flag.
ALTER TABLE enrichment_providers ADD COLUMN disabled_reason text;
ALTER TABLE enrichment_providers ADD COLUMN disabled_at timestamptz;

SELECT attach_updated_at_triggers();
