-- Up Migration
-- Sending and leads: mailboxes, campaigns, steps, leads, enrolments and the send ledger.
-- Parents expose UNIQUE (workspace_id, id) so children can use composite foreign keys
-- (workspace_id, parent_id): the database itself refuses a row that links two workspaces.

CREATE TABLE mailboxes (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email             text NOT NULL CHECK (email = lower(btrim(email)) AND position('@' IN email) > 1),
  domain            text NOT NULL CHECK (domain = lower(btrim(domain))),
  configuration_set text,
  status            text NOT NULL DEFAULT 'warming'
                    CHECK (status IN ('warming', 'active', 'paused', 'disabled')),
  paused_reason     text,
  daily_cap         integer NOT NULL DEFAULT 50 CHECK (daily_cap >= 0),
  warmup_day        integer NOT NULL DEFAULT 0 CHECK (warmup_day >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, email),
  UNIQUE (workspace_id, id)
);

CREATE TABLE campaigns (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  created_by        uuid,
  name              text NOT NULL,
  description       text,
  type              text NOT NULL DEFAULT 'sequence' CHECK (type IN ('sequence', 'one-off', 'drip')),
  status            text NOT NULL DEFAULT 'draft'
                    CHECK (status IN ('draft', 'scheduled', 'active', 'paused', 'completed')),
  timezone          text NOT NULL DEFAULT 'UTC',
  -- { startDate, sendBetween: { start, end }, excludeWeekends }
  schedule_settings jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(schedule_settings) = 'object'),
  daily_limit       integer NOT NULL DEFAULT 50 CHECK (daily_limit > 0),
  -- { stop_on_reply }
  settings          jsonb NOT NULL DEFAULT '{"stop_on_reply": true}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
  paused_reason     text,
  -- counters are recomputed by calculate-campaign-stats, never incremented
  total_leads       integer NOT NULL DEFAULT 0,
  sent_count        integer NOT NULL DEFAULT 0,
  open_count        integer NOT NULL DEFAULT 0,
  click_count       integer NOT NULL DEFAULT 0,
  reply_count       integer NOT NULL DEFAULT 0,
  bounce_count      integer NOT NULL DEFAULT 0,
  next_run_at       timestamptz,
  started_at        timestamptz,
  completed_at      timestamptz,
  deleted_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id)
);
CREATE INDEX campaigns_workspace_status_idx ON campaigns (workspace_id, status, created_at DESC);
CREATE INDEX campaigns_next_run_idx ON campaigns (next_run_at) WHERE status = 'active';

CREATE TABLE campaign_mailboxes (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id  uuid NOT NULL,
  mailbox_id   uuid NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (campaign_id, mailbox_id),
  FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, mailbox_id) REFERENCES mailboxes (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_mailboxes_mailbox_idx ON campaign_mailboxes (mailbox_id);

-- Sequence steps. Replaces ColdCopy's JSON step array and its use of campaign_emails as steps.
CREATE TABLE campaign_sequences (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id          uuid NOT NULL,
  step_number          integer NOT NULL CHECK (step_number >= 1),
  subject              text NOT NULL DEFAULT '',
  body                 text NOT NULL DEFAULT '',
  delay_days           integer NOT NULL DEFAULT 0 CHECK (delay_days >= 0),
  delay_hours          integer NOT NULL DEFAULT 0 CHECK (delay_hours >= 0),
  condition_type       text NOT NULL DEFAULT 'always'
                       CHECK (condition_type IN ('always', 'no_reply', 'no_open', 'opened', 'clicked')),
  condition_value      text,
  is_reply_to_previous boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (campaign_id, step_number),
  FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE leads (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  email             text NOT NULL CHECK (email = lower(btrim(email))),
  first_name        text,
  last_name         text,
  company           text,
  title             text,
  phone             text,
  website           text,
  linkedin_url      text,
  location          text,
  industry          text,
  status            text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'contacted', 'replied', 'qualified', 'unqualified', 'unsubscribed')),
  email_status      text NOT NULL DEFAULT 'unknown'
                    CHECK (email_status IN ('valid', 'invalid', 'risky', 'unknown')),
  email_checked_at  timestamptz,
  score             integer NOT NULL DEFAULT 0,
  engagement_score  integer NOT NULL DEFAULT 0,
  tags              text[] NOT NULL DEFAULT '{}',
  custom_fields     jsonb NOT NULL DEFAULT '{}'::jsonb,
  enrichment_data   jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_enriched_at  timestamptz,
  last_contacted_at timestamptz,
  last_activity_at  timestamptz,
  deleted_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, email),
  UNIQUE (workspace_id, id)
);
CREATE INDEX leads_workspace_status_idx ON leads (workspace_id, status);
CREATE INDEX leads_workspace_created_idx ON leads (workspace_id, created_at DESC);
CREATE INDEX leads_workspace_enriched_idx ON leads (workspace_id, last_enriched_at);

CREATE TABLE lead_scores (
  lead_id       uuid PRIMARY KEY,
  workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  total         smallint NOT NULL DEFAULT 0 CHECK (total BETWEEN 0 AND 100),
  engagement    smallint NOT NULL DEFAULT 0 CHECK (engagement BETWEEN 0 AND 100),
  profile       smallint NOT NULL DEFAULT 0 CHECK (profile BETWEEN 0 AND 100),
  behavior      smallint NOT NULL DEFAULT 0 CHECK (behavior BETWEEN 0 AND 100),
  intent        smallint NOT NULL DEFAULT 0 CHECK (intent BETWEEN 0 AND 100),
  fit           smallint NOT NULL DEFAULT 0 CHECK (fit BETWEEN 0 AND 100),
  breakdown     jsonb NOT NULL DEFAULT '{}'::jsonb,
  calculated_at timestamptz NOT NULL DEFAULT now(),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX lead_scores_workspace_total_idx ON lead_scores (workspace_id, total DESC);

-- Enrolment of a lead in a campaign. Adds workspace_id (ColdCopy inherits it via the campaign)
-- and allows 'replied', which ColdCopy's code writes but its CHECK rejected.
CREATE TABLE campaign_leads (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id     uuid NOT NULL,
  lead_id         uuid NOT NULL,
  status          text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'in_progress', 'replied', 'completed', 'failed', 'unsubscribed', 'bounced')),
  current_step    integer NOT NULL DEFAULT 0 CHECK (current_step >= 0),
  next_email_at   timestamptz,
  last_email_at   timestamptz,
  email_count     integer NOT NULL DEFAULT 0,
  open_count      integer NOT NULL DEFAULT 0,
  click_count     integer NOT NULL DEFAULT 0,
  replied_at      timestamptz,
  unsubscribed_at timestamptz,
  bounced_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (campaign_id, lead_id),
  FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX campaign_leads_due_idx ON campaign_leads (campaign_id, status, next_email_at)
  INCLUDE (lead_id) WHERE status IN ('pending', 'in_progress');
CREATE INDEX campaign_leads_lead_idx ON campaign_leads (lead_id);

-- One row per recipient and step, and the send ledger (email-ses-sns.md §12): the id is the SES
-- `send_id` tag and the tracking id; UNIQUE (campaign_id, lead_id, step_number) is the claim key.
CREATE TABLE campaign_emails (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id     uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id      uuid NOT NULL,
  lead_id          uuid NOT NULL,
  step_number      integer NOT NULL CHECK (step_number >= 1),
  mailbox_id       uuid,
  status           text NOT NULL DEFAULT 'scheduled'
                   CHECK (status IN ('scheduled', 'sending', 'retryable', 'sent', 'unknown', 'failed', 'failed_unknown', 'cancelled')),
  -- monotonic: complained beats bounced beats delivered (never moves back)
  delivery_status  text CHECK (delivery_status IN ('delivered', 'bounced', 'complained')),
  attempt          integer NOT NULL DEFAULT 0,
  claimed_at       timestamptz,
  scheduled_at     timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  delivered_at     timestamptz,
  opened_at        timestamptz,
  clicked_at       timestamptz,
  replied_at       timestamptz,
  bounced_at       timestamptz,
  complained_at    timestamptz,
  cancelled_at     timestamptz,
  cancelled_reason text,
  open_count       integer NOT NULL DEFAULT 0,
  click_count      integer NOT NULL DEFAULT 0,
  message_id       text,
  from_email       text,
  subject          text,
  content_html     text,
  content_text     text,
  consent_proof    jsonb,
  bounce_type      text,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT campaign_emails_claim_key UNIQUE (campaign_id, lead_id, step_number),
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, campaign_id) REFERENCES campaigns (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, lead_id) REFERENCES leads (workspace_id, id) ON DELETE CASCADE,
  FOREIGN KEY (workspace_id, mailbox_id) REFERENCES mailboxes (workspace_id, id)
);
CREATE INDEX campaign_emails_message_id_idx ON campaign_emails (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX campaign_emails_due_idx ON campaign_emails (workspace_id, status, scheduled_at)
  WHERE status IN ('scheduled', 'retryable');
CREATE INDEX campaign_emails_workspace_sent_idx ON campaign_emails (workspace_id, sent_at DESC);
CREATE INDEX campaign_emails_lease_idx ON campaign_emails (claimed_at) WHERE status = 'sending';
CREATE INDEX campaign_emails_lead_idx ON campaign_emails (lead_id);
CREATE INDEX campaign_emails_campaign_sent_idx ON campaign_emails (campaign_id, sent_at);

SELECT attach_updated_at_triggers();
