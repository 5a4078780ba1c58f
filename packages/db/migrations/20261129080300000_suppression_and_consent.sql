-- Up Migration
-- Suppression list (never purged) and consent records.

CREATE TABLE suppression_list (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- NULL for global rows (is_global)
  workspace_id     uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  email            text NOT NULL CHECK (email = lower(btrim(email))),
  suppression_type text NOT NULL
                   CHECK (suppression_type IN ('unsubscribe', 'bounce', 'complaint', 'manual', 'gdpr_request', 'invalid')),
  reason           text,
  source           text NOT NULL DEFAULT 'manual' CHECK (source IN ('link', 'webhook', 'api', 'manual', 'import')),
  campaign_id      uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  is_global        boolean NOT NULL DEFAULT false,
  bounce_count     integer NOT NULL DEFAULT 0,
  is_active        boolean NOT NULL DEFAULT true,
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CHECK (is_global = (workspace_id IS NULL)),
  UNIQUE (workspace_id, email)
);
CREATE UNIQUE INDEX suppression_list_global_email_idx ON suppression_list (email) WHERE is_global;

-- True when the address is suppressed for the workspace or globally. The address is normalised
-- the same way it is stored.
CREATE FUNCTION is_email_suppressed(p_workspace_id uuid, p_email text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
           SELECT 1 FROM suppression_list
           WHERE workspace_id = p_workspace_id AND email = lower(btrim(p_email)) AND is_active)
      OR EXISTS (
           SELECT 1 FROM suppression_list
           WHERE is_global AND email = lower(btrim(p_email)) AND is_active)
$$;

CREATE TABLE consent_records (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  lead_id      uuid NOT NULL,
  -- marketing | tracking | data_processing | newsletter | product_updates | ... (open list)
  consent_type text NOT NULL,
  status       text NOT NULL CHECK (status IN ('granted', 'withdrawn', 'pending', 'expired')),
  method       text,
  source       text,
  ip_address   inet,
  user_agent   text,
  consent_text text,
  version      text,
  expires_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX consent_records_lookup_idx ON consent_records (workspace_id, lead_id, consent_type, created_at DESC);
-- the daily consent-expiry job flips granted rows past expires_at to expired
CREATE INDEX consent_records_expiry_idx ON consent_records (expires_at) WHERE status = 'granted';

-- The latest record for (workspace, lead, type) decides; expiry is checked by time too, so a
-- record past expires_at counts as not granted even before the expiry job flips it.
CREATE FUNCTION check_consent(p_workspace_id uuid, p_lead_id uuid, p_consent_type text) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT COALESCE((
    SELECT status = 'granted' AND (expires_at IS NULL OR expires_at > now())
    FROM consent_records
    WHERE workspace_id = p_workspace_id AND lead_id = p_lead_id AND consent_type = p_consent_type
    ORDER BY created_at DESC, id DESC
    LIMIT 1
  ), false)
$$;

SELECT attach_updated_at_triggers();
