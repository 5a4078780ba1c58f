-- Up Migration
-- CRM and calendar integrations (providers.md §11). Tokens are encrypted by the application
-- (AES-256-GCM envelope: key id + nonce + ciphertext + tag) before they reach the database; the
-- *_encrypted columns are bytea and never hold plaintext, token_key_id allows key rotation.

CREATE TABLE integration_connections (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id            uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider                text NOT NULL CHECK (provider IN ('hubspot', 'salesforce', 'pipedrive')),
  status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'error', 'revoked', 'expired')),
  access_token_encrypted  bytea,
  refresh_token_encrypted bytea,
  token_key_id            text,
  expires_at              timestamptz,
  scopes                  text[] NOT NULL DEFAULT '{}',
  instance_url            text,   -- Salesforce
  portal_id               text,   -- HubSpot
  external_account_id     text,
  settings                jsonb NOT NULL DEFAULT '{}'::jsonb,
  sync_frequency_minutes  integer NOT NULL DEFAULT 15 CHECK (sync_frequency_minutes > 0),
  connected_by            uuid,
  last_refreshed_at       timestamptz,
  last_error              text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider),
  -- an encrypted token is useless without the id of the key that encrypted it
  CHECK ((access_token_encrypted IS NULL AND refresh_token_encrypted IS NULL) OR token_key_id IS NOT NULL)
);

CREATE TABLE integration_sync_state (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider           text NOT NULL,
  object_type        text NOT NULL,
  direction          text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  cursor_type        text NOT NULL DEFAULT 'timestamp' CHECK (cursor_type IN ('timestamp', 'sync_token', 'delta_link', 'after_id')),
  cursor_value       text,
  high_watermark     timestamptz,
  low_watermark      timestamptz,
  last_full_sync_at  timestamptz,
  last_success_at    timestamptz,
  status             text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running', 'error', 'paused')),
  lease_owner        text,
  lease_expires_at   timestamptz,
  error_count        integer NOT NULL DEFAULT 0,
  last_error         text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, object_type, direction)
);

CREATE TABLE integration_object_map (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider         text NOT NULL,
  object_type      text NOT NULL,
  local_id         uuid NOT NULL,
  remote_id        text NOT NULL,
  remote_version   text,
  last_synced_hash text,
  last_pushed_at   timestamptz,
  last_pulled_at   timestamptz,
  origin           text NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'remote')),
  deleted_at       timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, object_type, local_id),
  UNIQUE (workspace_id, provider, object_type, remote_id)
);

CREATE TABLE integration_outbox (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider     text NOT NULL,
  object_type  text NOT NULL,
  operation    text NOT NULL CHECK (operation IN ('create', 'update', 'upsert', 'delete', 'privacy_delete')),
  local_id     uuid NOT NULL,
  payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'done', 'failed')),
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  available_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- one pending change per object and operation; done rows never block re-queuing
CREATE UNIQUE INDEX integration_outbox_pending_idx ON integration_outbox (workspace_id, provider, object_type, local_id, operation)
  WHERE status = 'pending';
CREATE INDEX integration_outbox_drain_idx ON integration_outbox (workspace_id, provider, available_at) WHERE status = 'pending';
CREATE INDEX integration_outbox_processed_idx ON integration_outbox (processed_at) WHERE status IN ('done', 'failed');

CREATE TABLE integration_sync_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider      text NOT NULL,
  sync_type     text NOT NULL,
  direction     text,
  status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed', 'partial')),
  processed     integer NOT NULL DEFAULT 0,
  succeeded     integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  errors        jsonb NOT NULL DEFAULT '[]'::jsonb,
  cursor_before text,
  cursor_after  text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integration_sync_logs_workspace_idx ON integration_sync_logs (workspace_id, provider, started_at DESC);
CREATE INDEX integration_sync_logs_created_idx ON integration_sync_logs (created_at);

CREATE TABLE integration_field_mappings (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  provider            text NOT NULL,
  object_type         text NOT NULL,
  local_field         text NOT NULL,
  remote_field        text NOT NULL,
  direction           text NOT NULL DEFAULT 'both' CHECK (direction IN ('inbound', 'outbound', 'both')),
  conflict_resolution text NOT NULL DEFAULT 'newest_wins'
                      CHECK (conflict_resolution IN ('remote_wins', 'local_wins', 'newest_wins', 'manual')),
  transform           text,
  is_active           boolean NOT NULL DEFAULT true,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, object_type, local_field)
);

CREATE TABLE calendar_accounts (
  id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id            uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id                 uuid,
  provider                text NOT NULL CHECK (provider IN ('google', 'microsoft')),
  email                   text NOT NULL CHECK (email = lower(btrim(email))),
  status                  text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'error', 'revoked')),
  access_token_encrypted  bytea,
  refresh_token_encrypted bytea,
  token_key_id            text,
  expires_at              timestamptz,
  sync_enabled            boolean NOT NULL DEFAULT true,
  sync_token              text,   -- Google
  delta_link              text,   -- Microsoft Graph
  primary_calendar_id     text,
  calendar_ids            text[] NOT NULL DEFAULT '{}',
  channel_id              text,
  channel_expires_at      timestamptz,
  last_synced_at          timestamptz,
  last_error              text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, provider, email)
);

CREATE TABLE calendar_sync_logs (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  calendar_account_id uuid NOT NULL REFERENCES calendar_accounts (id) ON DELETE CASCADE,
  sync_type           text NOT NULL CHECK (sync_type IN ('full', 'incremental', 'webhook')),
  status              text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
  events_synced       integer NOT NULL DEFAULT 0,
  errors              jsonb NOT NULL DEFAULT '[]'::jsonb,
  started_at          timestamptz NOT NULL DEFAULT now(),
  completed_at        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calendar_sync_logs_account_idx ON calendar_sync_logs (calendar_account_id, started_at DESC);

-- Identity only (providers.md §10): partner-gated LinkedIn calls are never made.
CREATE TABLE linkedin_integrations (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id           uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id                uuid NOT NULL,
  linkedin_member_id     text,   -- OIDC sub
  name                   text,
  email                  text,
  picture_url            text,
  profile_url            text,   -- entered manually
  access_token_encrypted bytea,
  token_key_id           text,
  expires_at             timestamptz,
  status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'revoked')),
  last_checked_at        timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, user_id)
);

SELECT attach_updated_at_triggers();
