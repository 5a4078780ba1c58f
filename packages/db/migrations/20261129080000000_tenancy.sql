-- Up Migration
-- Tenancy: workspaces, the single membership table, user profiles, audit log.
-- Conventions (domain.md §1): uuid ids; every tenant table has workspace_id NOT NULL REFERENCES
-- workspaces ON DELETE CASCADE, created_at and updated_at; enum-like columns are text + CHECK;
-- email addresses are stored trimmed and lower-cased (enforced by CHECK constraints).
-- gen_random_uuid() is core since PostgreSQL 13: no extension needed.

-- Keeps updated_at current on every UPDATE.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- Attaches set_updated_at to every ordinary/partitioned table in public that has an updated_at
-- column and no trigger yet. Each migration calls it at its end, so new tables never miss it.
CREATE FUNCTION attach_updated_at_triggers() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN
    SELECT c.relname
    FROM pg_class c
    JOIN pg_namespace ns ON ns.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' AND NOT a.attisdropped
    WHERE ns.nspname = 'public'
      AND c.relkind IN ('r', 'p')
      AND NOT c.relispartition
      AND NOT EXISTS (
        SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'set_updated_at'
      )
  LOOP
    EXECUTE format(
      'CREATE TRIGGER set_updated_at BEFORE UPDATE ON public.%I FOR EACH ROW EXECUTE FUNCTION set_updated_at()',
      r.relname
    );
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

CREATE TABLE workspaces (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name              text NOT NULL,
  slug              text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$'),
  status            text NOT NULL DEFAULT 'trial'
                    CHECK (status IN ('trial', 'active', 'suspended', 'cancelled')),
  plan              text NOT NULL DEFAULT 'free',
  -- read by workers: email.sender_email, email.sender_name, email.reply_to_email,
  -- company.address (footer), notifications.dataRetention, keep_all_data
  settings          jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
  ai_tokens_balance bigint NOT NULL DEFAULT 0,
  ai_tokens_used    bigint NOT NULL DEFAULT 0 CHECK (ai_tokens_used >= 0),
  last_active_at    timestamptz,
  deleted_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- id = the auth user id (Supabase auth.users.id); no FK so the schema stays portable.
CREATE TABLE user_profiles (
  id         uuid PRIMARY KEY,
  email      text NOT NULL UNIQUE CHECK (email = lower(btrim(email))),
  full_name  text,
  timezone   text NOT NULL DEFAULT 'UTC',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The only membership table.
CREATE TABLE workspace_members (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id      uuid NOT NULL REFERENCES user_profiles (id) ON DELETE CASCADE,
  role         text NOT NULL DEFAULT 'outreach_specialist'
               CHECK (role IN ('super_admin', 'workspace_admin', 'campaign_manager', 'outreach_specialist')),
  is_default   boolean NOT NULL DEFAULT false,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_idx ON workspace_members (user_id, workspace_id);
-- at most one default workspace per user
CREATE UNIQUE INDEX workspace_members_one_default_idx ON workspace_members (user_id) WHERE is_default;

CREATE TABLE audit_logs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- NULL for system actions; auth.uid() is NULL under the service role, so jobs pass actorUserId
  actor_user_id uuid,
  action        text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text,
  changes       jsonb NOT NULL DEFAULT '{}'::jsonb,
  ip_address    inet,
  user_agent    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_workspace_created_idx ON audit_logs (workspace_id, created_at DESC);

SELECT attach_updated_at_triggers();
