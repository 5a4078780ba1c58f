-- Up Migration
-- AI worker: exact token budgets, one usage row per provider call, stored drafts.
--
-- Budgets. A job holds an estimate of its tokens before its first provider call
-- (ai_token_reservations, one row per workspace and Bull job id) and settles to the usage the
-- provider reported afterwards. The row is the guard that makes a retried, stalled or doubly run
-- job hold its estimate once; the usage rows (unique call_key) are the guard that charges each
-- provider call once. A workspace's ai_tokens_balance never goes below what its held
-- reservations cover: holding is `UPDATE workspaces ... WHERE ai_tokens_balance >= estimate`.
CREATE TABLE ai_token_reservations (
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  job_id          text NOT NULL,
  status          text NOT NULL CHECK (status IN ('held', 'closed')),
  -- tokens taken from the balance and not yet settled (0 once closed)
  held_tokens     bigint NOT NULL DEFAULT 0 CHECK (held_tokens >= 0),
  -- tokens charged for this job so far (sum of its usage rows)
  charged_tokens  bigint NOT NULL DEFAULT 0 CHECK (charged_tokens >= 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, job_id)
);
-- stale holds (a job that died and was never retried) are released by the next hold of the workspace
CREATE INDEX ai_token_reservations_held_idx ON ai_token_reservations (workspace_id, updated_at) WHERE status = 'held';

-- One usage row per provider call, not per job: a fallback or the retry of invalid output is a
-- second call with its own tokens and cost. call_key = `<job id>:<run>:<call>` is unique.
DROP INDEX ai_usage_logs_job_idx;
CREATE INDEX ai_usage_logs_job_idx ON ai_usage_logs (job_id) WHERE job_id IS NOT NULL;
ALTER TABLE ai_usage_logs ADD COLUMN call_key text;
ALTER TABLE ai_usage_logs ADD COLUMN outcome text NOT NULL DEFAULT 'ok';
CREATE UNIQUE INDEX ai_usage_logs_call_key_idx ON ai_usage_logs (call_key) WHERE call_key IS NOT NULL;

-- generate-email-content's drafts, one per job (a re-run after success returns it without a call)
CREATE TABLE ai_generated_drafts (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  job_id         text NOT NULL,
  user_id        uuid,
  lead_id        uuid REFERENCES leads (id) ON DELETE SET NULL,
  campaign_id    uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  step_number    integer,
  subject        text NOT NULL,
  body           text NOT NULL,
  provider       text NOT NULL,
  model          text NOT NULL,
  prompt_version text NOT NULL,
  tokens         integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, job_id)
);
CREATE INDEX ai_generated_drafts_lead_idx ON ai_generated_drafts (workspace_id, lead_id, created_at DESC);

SELECT attach_updated_at_triggers();
