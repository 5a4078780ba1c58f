-- Up Migration
-- Retention (cleanup-old-data, docs/schedules-and-retention.md): markers that make anonymisation
-- idempotent (a second run finds nothing to do), indexes the batched deletes walk, and a log of
-- every rule run (global rules have no workspace for gdpr_audit_logs).

-- subject and bodies cleared after 730 days; the row stays (it is the send ledger)
ALTER TABLE campaign_emails ADD COLUMN content_anonymized_at timestamptz;
CREATE INDEX campaign_emails_content_retention_idx ON campaign_emails (workspace_id, sent_at)
  WHERE content_anonymized_at IS NULL;

-- inactive leads anonymised after 1095 days without activity
ALTER TABLE leads ADD COLUMN anonymized_at timestamptz;

CREATE INDEX enriched_data_retention_idx ON enriched_data (workspace_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX materialized_view_refresh_log_finished_idx ON materialized_view_refresh_log (finished_at);
CREATE INDEX calendar_sync_logs_created_idx ON calendar_sync_logs (created_at);
CREATE INDEX integration_sync_logs_retention_idx ON integration_sync_logs (workspace_id, created_at);

-- One row per rule, workspace and run (dry runs included, flagged): what was changed and why.
CREATE TABLE retention_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id       uuid NOT NULL,
  -- NULL for global rules (enrichment_cache, webhook_dedupe, partitions, ...)
  workspace_id uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  rule         text NOT NULL,
  table_name   text NOT NULL,
  action       text NOT NULL CHECK (action IN ('deleted', 'anonymized', 'soft_deleted', 'expired', 'archived', 'suppressed', 'dropped', 'created')),
  affected     bigint NOT NULL CHECK (affected >= 0),
  cutoff       timestamptz,
  dry_run      boolean NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_runs_run_idx ON retention_runs (run_id);
CREATE INDEX retention_runs_created_idx ON retention_runs (created_at DESC);
