-- Up Migration
-- Mailbox warm-up (ColdCopy defines these only in its Python ORM).

CREATE TABLE warmup_pools (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- NULL = a shared pool across workspaces
  workspace_id uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  name         text NOT NULL,
  description  text,
  max_accounts integer NOT NULL DEFAULT 100,
  is_active    boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE warmup_accounts (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  pool_id           uuid REFERENCES warmup_pools (id) ON DELETE SET NULL,
  mailbox_id        uuid NOT NULL UNIQUE,
  email             text NOT NULL CHECK (email = lower(btrim(email))),
  status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled', 'error')),
  sends_today       integer NOT NULL DEFAULT 0,
  max_sends_per_day integer NOT NULL DEFAULT 40 CHECK (max_sends_per_day >= 0),
  reputation_score  numeric(5, 2),
  last_send_at      timestamptz,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, mailbox_id) REFERENCES mailboxes (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX warmup_accounts_pool_idx ON warmup_accounts (pool_id, status);

CREATE TABLE warmup_campaigns (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  mailbox_id          uuid NOT NULL,
  strategy            text NOT NULL DEFAULT 'moderate' CHECK (strategy IN ('conservative', 'moderate', 'aggressive')),
  status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'completed', 'frozen')),
  day_number          integer NOT NULL DEFAULT 1 CHECK (day_number >= 1),
  current_daily_limit integer NOT NULL DEFAULT 5,
  target_daily        integer NOT NULL DEFAULT 40,
  schedule            jsonb NOT NULL DEFAULT '{}'::jsonb,
  paused_reason       text,
  started_at          timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id),
  FOREIGN KEY (workspace_id, mailbox_id) REFERENCES mailboxes (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX warmup_campaigns_mailbox_idx ON warmup_campaigns (mailbox_id);

CREATE TABLE warmup_emails (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id         uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  warmup_campaign_id   uuid NOT NULL,
  sender_account_id    uuid NOT NULL REFERENCES warmup_accounts (id) ON DELETE CASCADE,
  recipient_account_id uuid NOT NULL REFERENCES warmup_accounts (id) ON DELETE CASCADE,
  message_id           text NOT NULL UNIQUE,
  thread_id            text,
  subject              text,
  should_open          boolean NOT NULL DEFAULT true,
  should_click         boolean NOT NULL DEFAULT false,
  should_reply         boolean NOT NULL DEFAULT false,
  open_delay_minutes   integer NOT NULL DEFAULT 0,
  sent_at              timestamptz,
  opened_at            timestamptz,
  clicked_at           timestamptz,
  replied_at           timestamptz,
  is_spam              boolean NOT NULL DEFAULT false,
  is_bounced           boolean NOT NULL DEFAULT false,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, warmup_campaign_id) REFERENCES warmup_campaigns (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX warmup_emails_campaign_idx ON warmup_emails (warmup_campaign_id, created_at DESC);

CREATE TABLE warmup_daily_stats (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id       uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  warmup_campaign_id uuid NOT NULL,
  date               date NOT NULL,
  sent               integer NOT NULL DEFAULT 0,
  delivered          integer NOT NULL DEFAULT 0,
  opened             integer NOT NULL DEFAULT 0,
  replied            integer NOT NULL DEFAULT 0,
  bounced            integer NOT NULL DEFAULT 0,
  spam               integer NOT NULL DEFAULT 0,
  open_rate          numeric(6, 4),
  reply_rate         numeric(6, 4),
  bounce_rate        numeric(6, 4),
  spam_rate          numeric(6, 4),
  is_healthy         boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (warmup_campaign_id, date),
  FOREIGN KEY (workspace_id, warmup_campaign_id) REFERENCES warmup_campaigns (workspace_id, id) ON DELETE CASCADE
);

SELECT attach_updated_at_triggers();
