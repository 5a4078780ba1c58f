-- Up Migration
-- Integration worker (providers.md §11): what the sync engine needs beyond the tables of
-- 20261129080600000_integrations.sql.
--
-- Outbox claims. A drain claims pending rows for the length of one provider call
-- (claimed_until) instead of moving them to another status, so the partial unique index on
-- pending rows keeps holding while a batch is in flight. A change recorded while its row is
-- claimed bumps change_seq on that same row; the drain marks a row done only when its change_seq is
-- the one it sent, so the newer change is pushed by the next drain and never lost.
ALTER TABLE integration_outbox
  ADD COLUMN change_seq    integer NOT NULL DEFAULT 1,
  ADD COLUMN claimed_by    text,
  ADD COLUMN claimed_until timestamptz;

-- What a user must act on (reconnect a revoked grant, a token past its expiry): one open notice
-- per workspace, provider and kind, so a retried job never piles them up.
CREATE TABLE integration_notices (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider      text NOT NULL,
  connection_id uuid,
  kind          text NOT NULL CHECK (kind IN ('reconnect_required', 'token_expiring', 'sync_failing')),
  message       text NOT NULL,
  resolved_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX integration_notices_open_idx ON integration_notices (workspace_id, provider, kind) WHERE resolved_at IS NULL;

-- Connections found by the schedulers (active ones per provider).
CREATE INDEX integration_connections_provider_status_idx ON integration_connections (provider, status);

SELECT attach_updated_at_triggers();
