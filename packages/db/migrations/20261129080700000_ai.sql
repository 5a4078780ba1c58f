-- Up Migration
-- AI: usage ledger, sentiment, smart replies, meeting intent.

CREATE TABLE ai_usage_logs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id        uuid,
  -- Bull job id: AI tokens are deducted once per job, the unique index is the durable guard
  job_id         text,
  provider       text NOT NULL,
  model          text NOT NULL,
  request_id     text,
  input_tokens   integer NOT NULL DEFAULT 0,
  output_tokens  integer NOT NULL DEFAULT 0,
  cached_tokens  integer NOT NULL DEFAULT 0,
  cost           numeric(12, 6) NOT NULL DEFAULT 0,
  price_version  text,
  purpose        text NOT NULL,
  latency_ms     integer,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ai_usage_logs_job_idx ON ai_usage_logs (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX ai_usage_logs_workspace_idx ON ai_usage_logs (workspace_id, created_at DESC);

CREATE TABLE conversation_threads (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  thread_key      text NOT NULL,
  lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
  channel         text NOT NULL DEFAULT 'email',
  subject         text,
  message_count   integer NOT NULL DEFAULT 0,
  sentiment_score numeric(4, 3),
  sentiment_trend text CHECK (sentiment_trend IN ('improving', 'stable', 'declining')),
  last_message_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, thread_key),
  UNIQUE (workspace_id, id)
);

CREATE TABLE message_sentiments (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  thread_id      uuid NOT NULL,
  message_id     text NOT NULL UNIQUE,
  lead_id        uuid REFERENCES leads (id) ON DELETE SET NULL,
  is_from_lead   boolean NOT NULL DEFAULT true,
  sentiment      text NOT NULL CHECK (sentiment IN ('positive', 'neutral', 'negative', 'mixed')),
  score          numeric(4, 3) NOT NULL CHECK (score BETWEEN -1 AND 1),
  confidence     numeric(4, 3) NOT NULL DEFAULT 0 CHECK (confidence BETWEEN 0 AND 1),
  emotions       jsonb NOT NULL DEFAULT '{}'::jsonb,
  buying_signals jsonb NOT NULL DEFAULT '[]'::jsonb,
  model          text,
  analyzed_at    timestamptz NOT NULL DEFAULT now(),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, thread_id) REFERENCES conversation_threads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX message_sentiments_thread_idx ON message_sentiments (thread_id, analyzed_at);

CREATE TABLE sentiment_alerts (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  thread_id       uuid REFERENCES conversation_threads (id) ON DELETE CASCADE,
  lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
  message_id      text,
  severity        text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  alert_type      text NOT NULL,
  message         text NOT NULL,
  score           numeric(4, 3),
  acknowledged_at timestamptz,
  acknowledged_by uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sentiment_alerts_open_idx ON sentiment_alerts (workspace_id, created_at DESC) WHERE acknowledged_at IS NULL;

CREATE TABLE message_analysis (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  message_id   text NOT NULL,
  thread_id    text,
  lead_id      uuid REFERENCES leads (id) ON DELETE SET NULL,
  intent       text,
  sentiment    text,
  urgency      text CHECK (urgency IN ('low', 'medium', 'high')),
  key_points   jsonb NOT NULL DEFAULT '[]'::jsonb,
  entities     jsonb NOT NULL DEFAULT '{}'::jsonb,
  questions    jsonb NOT NULL DEFAULT '[]'::jsonb,
  confidence   numeric(4, 3),
  model        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, message_id),
  UNIQUE (workspace_id, id)
);

CREATE TABLE reply_suggestions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  analysis_id  uuid NOT NULL,
  message_id   text NOT NULL,
  content      text NOT NULL,
  tone         text,
  rank         integer NOT NULL DEFAULT 1,
  status       text NOT NULL DEFAULT 'suggested' CHECK (status IN ('suggested', 'used', 'edited', 'dismissed')),
  model        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, analysis_id) REFERENCES message_analysis (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX reply_suggestions_analysis_idx ON reply_suggestions (analysis_id, rank);

CREATE TABLE reply_templates (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name         text NOT NULL,
  category     text,
  intent       text,
  content      text NOT NULL,
  variables    text[] NOT NULL DEFAULT '{}',
  usage_count  integer NOT NULL DEFAULT 0,
  is_active    boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reply_templates_workspace_idx ON reply_templates (workspace_id, category) WHERE is_active;

CREATE TABLE conversation_context (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  thread_id       text NOT NULL,
  lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
  summary         text,
  context         jsonb NOT NULL DEFAULT '{}'::jsonb,
  message_count   integer NOT NULL DEFAULT 0,
  last_message_at timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, thread_id)
);

CREATE TABLE meeting_requests (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  source_message_id text NOT NULL UNIQUE,
  lead_id           uuid REFERENCES leads (id) ON DELETE SET NULL,
  thread_id         text,
  status            text NOT NULL DEFAULT 'detected'
                    CHECK (status IN ('detected', 'proposed', 'scheduled', 'declined', 'cancelled', 'expired')),
  confidence        numeric(4, 3) NOT NULL DEFAULT 0,
  intent_type       text,
  proposed_times    jsonb NOT NULL DEFAULT '[]'::jsonb,
  duration_minutes  integer NOT NULL DEFAULT 30,
  timezone          text,
  metadata          jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id)
);
CREATE INDEX meeting_requests_workspace_idx ON meeting_requests (workspace_id, status, created_at DESC);

CREATE TABLE meeting_slots (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  meeting_request_id uuid NOT NULL,
  starts_at          timestamptz NOT NULL,
  ends_at            timestamptz NOT NULL,
  status             text NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'accepted', 'rejected', 'expired')),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  FOREIGN KEY (workspace_id, meeting_request_id) REFERENCES meeting_requests (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX meeting_slots_request_idx ON meeting_slots (meeting_request_id, starts_at);

CREATE TABLE scheduled_meetings (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  meeting_request_id  uuid REFERENCES meeting_requests (id) ON DELETE SET NULL,
  lead_id             uuid REFERENCES leads (id) ON DELETE SET NULL,
  calendar_account_id uuid REFERENCES calendar_accounts (id) ON DELETE SET NULL,
  title               text NOT NULL,
  description         text,
  starts_at           timestamptz NOT NULL,
  ends_at             timestamptz NOT NULL,
  timezone            text NOT NULL DEFAULT 'UTC',
  location            text,
  meeting_url         text,
  -- deterministic ids make calendar writes idempotent
  calendar_event_id   text,
  ical_uid            text,
  status              text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'confirmed', 'cancelled', 'completed', 'no_show')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE UNIQUE INDEX scheduled_meetings_event_idx ON scheduled_meetings (calendar_account_id, calendar_event_id)
  WHERE calendar_event_id IS NOT NULL;
CREATE INDEX scheduled_meetings_workspace_idx ON scheduled_meetings (workspace_id, starts_at);

CREATE TABLE meeting_availability (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id        uuid NOT NULL,
  day_of_week    smallint NOT NULL CHECK (day_of_week BETWEEN 0 AND 6),
  start_time     time NOT NULL,
  end_time       time NOT NULL,
  timezone       text NOT NULL DEFAULT 'UTC',
  buffer_minutes integer NOT NULL DEFAULT 0,
  is_active      boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (end_time > start_time)
);
CREATE INDEX meeting_availability_user_idx ON meeting_availability (workspace_id, user_id, day_of_week);

SELECT attach_updated_at_triggers();
