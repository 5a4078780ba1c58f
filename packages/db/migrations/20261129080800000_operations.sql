-- Up Migration
-- Operations: final job failures, exports, reports, analytics summary, GDPR, retention, uploads.

CREATE TABLE job_failures (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- NULL for global maintenance jobs
  workspace_id  uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  queue         text NOT NULL,
  job_name      text NOT NULL,
  job_id        text NOT NULL,
  error_class   text NOT NULL,
  error_message text,
  payload_hash  text,
  attempts      integer NOT NULL DEFAULT 1,
  failed_at     timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_failures_queue_idx ON job_failures (queue, failed_at DESC);
CREATE INDEX job_failures_workspace_idx ON job_failures (workspace_id, failed_at DESC);

CREATE TABLE export_jobs (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  requested_by uuid,
  type         text NOT NULL CHECK (type IN ('leads', 'campaigns', 'email_events', 'analytics', 'gdpr')),
  format       text NOT NULL CHECK (format IN ('csv', 'xlsx', 'json')),
  fields       text[] NOT NULL DEFAULT '{}',
  filters      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'expired')),
  progress     integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  row_count    bigint,
  file_size    bigint,
  object_key   text,
  expires_at   timestamptz,
  error        text,
  bull_job_id  text,
  started_at   timestamptz,
  completed_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX export_jobs_workspace_idx ON export_jobs (workspace_id, created_at DESC);

CREATE TABLE report_runs (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  report_id    uuid,
  report_type  text NOT NULL,
  campaign_id  uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  period_start timestamptz NOT NULL,
  period_end   timestamptz NOT NULL,
  format       text NOT NULL DEFAULT 'pdf' CHECK (format IN ('pdf')),
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  object_key   text,
  recipients   text[] NOT NULL DEFAULT '{}',
  emailed_at   timestamptz,
  error        text,
  started_at   timestamptz,
  completed_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (period_end >= period_start)
);
-- job key report:{reportId}:{periodStart}: an email failure must not regenerate the PDF
CREATE UNIQUE INDEX report_runs_period_idx ON report_runs (report_id, period_start) WHERE report_id IS NOT NULL;
CREATE INDEX report_runs_workspace_idx ON report_runs (workspace_id, created_at DESC);

CREATE TABLE analytics_summary (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  date           date NOT NULL,
  emails_sent    integer NOT NULL DEFAULT 0,
  delivered      integer NOT NULL DEFAULT 0,
  opened         integer NOT NULL DEFAULT 0,
  clicked        integer NOT NULL DEFAULT 0,
  replied        integer NOT NULL DEFAULT 0,
  bounced        integer NOT NULL DEFAULT 0,
  complained     integer NOT NULL DEFAULT 0,
  unsubscribed   integer NOT NULL DEFAULT 0,
  leads_added    integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, date)
);

-- Product analytics events (retention 90 days).
CREATE TABLE analytics_events (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id      uuid,
  event_type   text NOT NULL,
  properties   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX analytics_events_workspace_idx ON analytics_events (workspace_id, created_at DESC);
CREATE INDEX analytics_events_created_idx ON analytics_events (created_at);

CREATE TABLE data_subject_requests (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id            uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  request_type            text NOT NULL
                          CHECK (request_type IN ('access', 'portability', 'erasure', 'rectification', 'restriction', 'objection')),
  status                  text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'verifying', 'processing', 'completed', 'rejected')),
  email                   text NOT NULL CHECK (email = lower(btrim(email))),
  lead_id                 uuid REFERENCES leads (id) ON DELETE SET NULL,
  verification_token_hash text,
  verified_at             timestamptz,
  -- 30-day legal deadline
  deadline_at             timestamptz NOT NULL DEFAULT (now() + interval '30 days'),
  requested_by            uuid,
  response                jsonb NOT NULL DEFAULT '{}'::jsonb,
  completed_at            timestamptz,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX data_subject_requests_open_idx ON data_subject_requests (deadline_at) WHERE status NOT IN ('completed', 'rejected');
CREATE INDEX data_subject_requests_workspace_idx ON data_subject_requests (workspace_id, created_at DESC);

CREATE TABLE data_portability_exports (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  request_id      uuid REFERENCES data_subject_requests (id) ON DELETE CASCADE,
  lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
  format          text NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'csv', 'xml')),
  format_version  text NOT NULL DEFAULT '1.0',
  object_key      text,
  checksum_sha256 text,
  expires_at      timestamptz NOT NULL DEFAULT (now() + interval '7 days'),
  download_count  integer NOT NULL DEFAULT 0,
  max_downloads   integer NOT NULL DEFAULT 3,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK (download_count <= max_downloads)
);

CREATE TABLE data_retention_policies (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  data_type          text NOT NULL,
  retention_days     integer NOT NULL CHECK (retention_days > 0),
  action             text NOT NULL DEFAULT 'delete' CHECK (action IN ('delete', 'anonymize', 'archive')),
  is_active          boolean NOT NULL DEFAULT true,
  last_run_at        timestamptz,
  last_affected_rows bigint,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, data_type),
  -- the suppression list is never purged (domain.md §6)
  CHECK (data_type <> 'suppression_list')
);

CREATE TABLE gdpr_audit_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- explicit actor: auth.uid() is NULL under the service role
  actor_user_id uuid,
  actor_type    text NOT NULL DEFAULT 'system' CHECK (actor_type IN ('user', 'system')),
  action        text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text,
  lead_id       uuid,
  details       jsonb NOT NULL DEFAULT '{}'::jsonb,
  ip_address    inet,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (actor_type = 'system' OR actor_user_id IS NOT NULL)
);
CREATE INDEX gdpr_audit_logs_workspace_idx ON gdpr_audit_logs (workspace_id, created_at DESC);

CREATE TABLE materialized_view_refresh_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  view_name    text NOT NULL,
  used_concurrently boolean NOT NULL,
  status       text NOT NULL CHECK (status IN ('success', 'failed', 'skipped')),
  duration_ms  integer,
  row_count    bigint,
  error        text,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX materialized_view_refresh_log_view_idx ON materialized_view_refresh_log (view_name, finished_at DESC);

CREATE TABLE uploads (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  uploaded_by  uuid,
  bucket       text NOT NULL,
  object_key   text NOT NULL,
  file_type    text NOT NULL CHECK (file_type IN ('avatar', 'logo', 'template', 'attachment', 'import')),
  mime_type    text,
  size_bytes   bigint,
  status       text NOT NULL DEFAULT 'uploaded' CHECK (status IN ('uploaded', 'processing', 'processed', 'failed')),
  -- { variants: [...] } written by optimize-images
  metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, object_key)
);
CREATE INDEX uploads_workspace_idx ON uploads (workspace_id, created_at DESC);

SELECT attach_updated_at_triggers();
