-- Up Migration
-- email_events (partitioned by month, domain.md §2), webhook dedupe, inbox threads and messages.

CREATE TABLE partition_maintenance_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  parent_table   text NOT NULL,
  partition_name text NOT NULL,
  action         text NOT NULL CHECK (action IN ('created', 'dropped')),
  details        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX partition_maintenance_log_created_idx ON partition_maintenance_log (created_at DESC);

-- Event vocabulary is past tense (ColdCopy mixed in SES names and then counted zero opens);
-- details such as auto_reply, soft/hard bounce or rejected go into metadata.
CREATE TABLE email_events (
  id                  uuid NOT NULL DEFAULT gen_random_uuid(),
  workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id         uuid,
  lead_id             uuid,
  campaign_email_id   uuid,
  event_type          text NOT NULL
                      CHECK (event_type IN ('sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced', 'complained', 'unsubscribed')),
  provider            text,
  provider_message_id text,
  provider_event_id   text,
  -- url, user agent, ip, bounce type/subtype, diagnostic, complaint feedback type, reply score
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  -- a unique constraint on a partitioned table must include the partition key; webhook dedupe
  -- therefore lives in webhook_dedupe, not here
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX email_events_workspace_created_idx ON email_events (workspace_id, created_at DESC);
CREATE INDEX email_events_campaign_type_idx ON email_events (campaign_id, event_type, created_at DESC);
CREATE INDEX email_events_lead_type_idx ON email_events (lead_id, event_type, created_at DESC);
CREATE INDEX email_events_campaign_email_idx ON email_events (campaign_email_id);
CREATE INDEX email_events_provider_message_idx ON email_events (provider_message_id)
  WHERE provider_message_id IS NOT NULL;

-- Month boundaries are UTC whatever the session TimeZone is.
CREATE FUNCTION email_events_partition_name(p_month date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'email_events_' || to_char(date_trunc('month', p_month), 'YYYY_MM')
$$;

-- Creates the partition holding p_month (any day of it) if missing; returns its name when it was
-- created, NULL when it already existed. Owner-run (SECURITY DEFINER) because it is DDL.
CREATE FUNCTION create_email_events_partition(p_month date) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_start date := date_trunc('month', p_month)::date;
  v_end   date := (date_trunc('month', p_month) + interval '1 month')::date;
  v_name  text := email_events_partition_name(p_month);
BEGIN
  IF to_regclass(format('public.%I', v_name)) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format(
    'CREATE TABLE public.%I PARTITION OF public.email_events FOR VALUES FROM (%L) TO (%L)',
    v_name,
    v_start::timestamp AT TIME ZONE 'UTC',
    v_end::timestamp AT TIME ZONE 'UTC'
  );
  INSERT INTO partition_maintenance_log (parent_table, partition_name, action, details)
  VALUES ('email_events', v_name, 'created', jsonb_build_object('from', v_start, 'to', v_end));
  RETURN v_name;
END
$$;

-- Daily maintenance (domain.md §6, 02:30 UTC): makes sure the current month and the next
-- p_months_ahead months exist, and drops whole months that ended p_retention_months or more
-- before the current month. Refuses to drop when a workspace retention policy for email_events
-- is longer than the partition retention. p_now exists for tests.
CREATE FUNCTION maintain_email_events_partitions(
  p_months_ahead     integer DEFAULT 3,
  p_retention_months integer DEFAULT 13,
  p_now              timestamptz DEFAULT now()
) RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_current date := date_trunc('month', p_now AT TIME ZONE 'UTC')::date;
  v_cutoff  date := (date_trunc('month', p_now AT TIME ZONE 'UTC') - make_interval(months => p_retention_months))::date;
  v_longest integer;
  v_name    text;
  v_month   date;
  r         record;
BEGIN
  IF p_months_ahead < 0 OR p_months_ahead > 24 THEN
    RAISE EXCEPTION 'p_months_ahead must be between 0 and 24, got %', p_months_ahead USING ERRCODE = '22023';
  END IF;
  IF p_retention_months < 1 THEN
    RAISE EXCEPTION 'p_retention_months must be at least 1, got %', p_retention_months USING ERRCODE = '22023';
  END IF;
  -- one maintainer at a time; a second caller waits instead of failing on a duplicate CREATE
  PERFORM pg_advisory_xact_lock(hashtext('coldcopy:email_events_partitions'));

  FOR i IN 0..p_months_ahead LOOP
    v_name := create_email_events_partition((v_current + make_interval(months => i))::date);
    IF v_name IS NOT NULL THEN
      action := 'created';
      partition_name := v_name;
      RETURN NEXT;
    END IF;
  END LOOP;

  SELECT max(retention_days) INTO v_longest
  FROM data_retention_policies
  WHERE data_type = 'email_events' AND is_active;
  IF v_longest IS NOT NULL AND (v_cutoff::timestamp AT TIME ZONE 'UTC') > p_now - make_interval(days => v_longest) THEN
    RAISE EXCEPTION 'partition retention of % months is shorter than the longest workspace email_events policy (% days)',
      p_retention_months, v_longest USING ERRCODE = '22023';
  END IF;

  FOR r IN
    SELECT c.relname
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'public.email_events'::regclass
      AND c.relname ~ '^email_events_[0-9]{4}_[0-9]{2}$'
    ORDER BY c.relname
  LOOP
    v_month := to_date(substr(r.relname, 14), 'YYYY_MM');
    -- the partition holds [v_month, v_month + 1 month): drop it once all of it is past the cutoff
    IF (v_month + interval '1 month')::date <= v_cutoff THEN
      EXECUTE format('DROP TABLE public.%I', r.relname);
      INSERT INTO partition_maintenance_log (parent_table, partition_name, action, details)
      VALUES ('email_events', r.relname, 'dropped',
              jsonb_build_object('cutoff', v_cutoff, 'retention_months', p_retention_months));
      action := 'dropped';
      partition_name := r.relname;
      RETURN NEXT;
    END IF;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION create_email_events_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION maintain_email_events_partitions(integer, integer, timestamptz) FROM PUBLIC;

-- Provider event ids (SNS MessageId, SendGrid sg_event_id, ...). workspace_id records which
-- workspace the event was applied to, so a replay addressed to another workspace is refused.
CREATE TABLE webhook_dedupe (
  provider          text NOT NULL,
  provider_event_id text NOT NULL,
  workspace_id      uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  received_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, provider_event_id)
);
CREATE INDEX webhook_dedupe_received_idx ON webhook_dedupe (received_at);

CREATE TABLE email_threads (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id    uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  lead_id         uuid REFERENCES leads (id) ON DELETE SET NULL,
  campaign_id     uuid REFERENCES campaigns (id) ON DELETE SET NULL,
  mailbox_id      uuid REFERENCES mailboxes (id) ON DELETE SET NULL,
  subject         text,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'archived', 'spam')),
  last_message_at timestamptz,
  message_count   integer NOT NULL DEFAULT 0,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, id)
);
CREATE INDEX email_threads_workspace_last_idx ON email_threads (workspace_id, last_message_at DESC);
CREATE INDEX email_threads_lead_idx ON email_threads (lead_id);

CREATE TABLE email_messages (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  thread_id    uuid NOT NULL,
  message_id   text NOT NULL UNIQUE,
  in_reply_to  text,
  direction    text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  from_email   text NOT NULL,
  to_emails    text[] NOT NULL DEFAULT '{}',
  subject      text,
  body_text    text,
  body_html    text,
  headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- { email_type: reply|auto_reply|bounce|new, reply_score }
  metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
  sent_at      timestamptz,
  received_at  timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, thread_id) REFERENCES email_threads (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX email_messages_thread_idx ON email_messages (thread_id, created_at);
CREATE INDEX email_messages_in_reply_to_idx ON email_messages (in_reply_to) WHERE in_reply_to IS NOT NULL;

SELECT attach_updated_at_triggers();

-- Pre-create the previous month (late webhooks carry their own timestamps), the current month and
-- the next 3. The daily maintenance job keeps this window moving.
SELECT create_email_events_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
FROM generate_series(-1, 3) AS m;
