-- Up Migration
-- In-app notices to users: what the web app lists under the bell. domain.md §5 names a "user
-- notice" among export-data's side effects (the export is ready with its link's expiry, or it
-- failed and why) and the integration worker's "connection inactive + notice"; the canonical
-- schema has no table for it, so this is ours. A worker writes a notice in the same transaction
-- as the state it reports; `dedupe_key` (unique per workspace) makes a retried or re-run job
-- notify once. The notice holds no download URL (signed URLs expire within the hour): it names
-- the resource, and the web app signs a fresh link when the user opens it.
CREATE TABLE user_notices (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- the recipient (auth user id); NULL: every member of the workspace
  user_id       uuid,
  -- what happened, dotted: export.ready, export.failed, integration.disconnected, ...
  kind          text NOT NULL CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)+$'),
  severity      text NOT NULL DEFAULT 'info' CHECK (severity IN ('info', 'success', 'warning', 'error')),
  title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  body          text NOT NULL CHECK (length(body) <= 2000),
  resource_type text,
  resource_id   uuid,
  -- figures the web app may render (rows, bytes, format, link expiry); never a secret or a URL
  data          jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedupe_key    text NOT NULL,
  read_at       timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, dedupe_key)
);
-- the bell: a user's unread notices, newest first (their own and the workspace-wide ones)
CREATE INDEX user_notices_unread_idx ON user_notices (workspace_id, user_id, created_at DESC) WHERE read_at IS NULL;

SELECT attach_updated_at_triggers();
