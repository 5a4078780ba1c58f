-- Up Migration
-- sync-calendar (domain.md §5, providers.md §9): the busy time of each connected calendar as the
-- sync last read it, kept per account and provider event id. Only what free/busy and meeting
-- reconciliation need: times, whether the event blocks time, its iCalUID and the provider's
-- modification time; never titles, attendees or bodies. `synced_at` is the start of the sync round
-- that last saw the event: a full round (first sync, or after 410 Gone) deletes the account's rows
-- it did not see, so a resync ends in exactly the provider's state.
CREATE TABLE calendar_events (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  calendar_account_id uuid NOT NULL REFERENCES calendar_accounts (id) ON DELETE CASCADE,
  provider_event_id   text NOT NULL,
  ical_uid            text,
  status              text NOT NULL CHECK (status IN ('confirmed', 'tentative')),
  busy                boolean NOT NULL DEFAULT true,
  all_day             boolean NOT NULL DEFAULT false,
  starts_at           timestamptz NOT NULL,
  ends_at             timestamptz NOT NULL,
  remote_updated_at   timestamptz,
  synced_at           timestamptz NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at >= starts_at),
  UNIQUE (calendar_account_id, provider_event_id)
);
CREATE INDEX calendar_events_busy_idx ON calendar_events (workspace_id, calendar_account_id, starts_at) WHERE busy;

-- The calendar schedule (every 15 minutes) runs an account once its own frequency has passed, as
-- integration_connections.sync_frequency_minutes does for the CRMs (domain.md §6).
ALTER TABLE calendar_accounts ADD COLUMN sync_frequency_minutes integer NOT NULL DEFAULT 15 CHECK (sync_frequency_minutes > 0);
CREATE INDEX calendar_accounts_due_idx ON calendar_accounts (last_synced_at) WHERE status = 'active' AND sync_enabled;

SELECT attach_updated_at_triggers();
