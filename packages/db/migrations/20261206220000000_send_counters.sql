-- Up Migration
-- Per-send cost constant with volume: the campaign's daily limit and the bounce and complaint
-- rates that auto-pause mailboxes and campaigns are read from counters kept as the ledger
-- changes, not counted over the ledger's history on every tick and every bounce (which made a
-- campaign's cost grow with its size). The counters are kept by triggers on campaign_emails, so
-- every write path (the send's one-statement record, the SES Send event's reconciliation, a
-- cancellation, a delivery status) updates them in the statement, and so the transaction, that
-- changes the ledger row.

-- Ledger rows of a campaign created per 15-minute slot (UTC, date_bin), cancelled ones not
-- counted. A campaign's local day starts on a 15-minute boundary in every time zone, so the sum of
-- the slots since that start is exactly the count of rows created since then (96 rows a day at most).
CREATE TABLE campaign_send_counts (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  campaign_id  uuid NOT NULL,
  slot         timestamptz NOT NULL,
  created      integer NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, slot)
);

-- Sends, bounces (OnAccountSuppressionList excluded: it does not count toward SES's bounce rate)
-- and complaints per mailbox and per campaign and UTC day of the send (sent_at).
CREATE TABLE send_reputation_counts (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  subject      text NOT NULL CHECK (subject IN ('mailbox', 'campaign')),
  subject_id   uuid NOT NULL,
  day          date NOT NULL,
  sent         integer NOT NULL DEFAULT 0,
  bounced      integer NOT NULL DEFAULT 0,
  complained   integer NOT NULL DEFAULT 0,
  PRIMARY KEY (subject_id, subject, day)
);

CREATE FUNCTION send_count_slot(at timestamptz) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00') $$;

-- One row's contribution, with a sign (+1 for the row as it is now, -1 as it was): to its
-- campaign's created count (`created`), and to its mailbox's and campaign's reputation on the day
-- it was sent (`reputation`).
CREATE FUNCTION bump_send_counts(r campaign_emails, sign integer, created boolean, reputation boolean) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  IF created AND r.status <> 'cancelled' THEN
    INSERT INTO campaign_send_counts AS t (workspace_id, campaign_id, slot, created)
    VALUES (r.workspace_id, r.campaign_id, send_count_slot(r.created_at), sign)
    ON CONFLICT (campaign_id, slot) DO UPDATE SET created = t.created + EXCLUDED.created;
  END IF;
  IF reputation AND r.sent_at IS NOT NULL AND (r.status = 'sent' OR r.delivery_status IN ('bounced', 'complained')) THEN
    INSERT INTO send_reputation_counts AS t (workspace_id, subject, subject_id, day, sent, bounced, complained)
    SELECT r.workspace_id, s.subject, s.subject_id, (r.sent_at AT TIME ZONE 'UTC')::date,
           sign * (r.status = 'sent')::int,
           sign * coalesce(r.delivery_status = 'bounced' AND coalesce(r.bounce_type, '') NOT LIKE '%OnAccountSuppressionList%', false)::int,
           sign * coalesce(r.delivery_status = 'complained', false)::int
    FROM (VALUES ('mailbox', r.mailbox_id), ('campaign', r.campaign_id)) s (subject, subject_id)
    WHERE s.subject_id IS NOT NULL
    ON CONFLICT (subject_id, subject, day) DO UPDATE SET
      sent = t.sent + EXCLUDED.sent, bounced = t.bounced + EXCLUDED.bounced, complained = t.complained + EXCLUDED.complained;
  END IF;
END $$;

-- Inserts and deletes: statement-level, over the transition table; the created counts grouped (a
-- tick's insert of 500 rows updates its slot once), reputation per row (rows inserted or deleted
-- already sent are rare: imports, retention).
CREATE FUNCTION campaign_emails_count_insert() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  r campaign_emails;
BEGIN
  INSERT INTO campaign_send_counts AS t (workspace_id, campaign_id, slot, created)
  SELECT n.workspace_id, n.campaign_id, send_count_slot(n.created_at), count(*) FROM new_rows n WHERE n.status <> 'cancelled' GROUP BY 1, 2, 3
  ON CONFLICT (campaign_id, slot) DO UPDATE SET created = t.created + EXCLUDED.created;
  FOR r IN SELECT * FROM new_rows n WHERE n.sent_at IS NOT NULL AND (n.status = 'sent' OR n.delivery_status IN ('bounced', 'complained')) LOOP
    PERFORM bump_send_counts(r, 1, false, true);
  END LOOP;
  -- the tick's enrolment query skips enrolments whose next step has a ledger row (scheduled_step)
  UPDATE campaign_leads cl SET scheduled_step = s.step
  FROM (SELECT n.campaign_id, n.lead_id, max(n.step_number) AS step FROM new_rows n GROUP BY 1, 2) s
  WHERE cl.campaign_id = s.campaign_id AND cl.lead_id = s.lead_id AND cl.scheduled_step < s.step;
  RETURN NULL;
END $$;

CREATE FUNCTION campaign_emails_count_delete() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  r campaign_emails;
BEGIN
  -- decrements only (no insert): a cascade from the workspace may have removed the counter rows already
  UPDATE campaign_send_counts t SET created = t.created - o.n
  FROM (SELECT campaign_id, send_count_slot(created_at) AS slot, count(*) AS n FROM old_rows WHERE status <> 'cancelled' GROUP BY 1, 2) o
  WHERE t.campaign_id = o.campaign_id AND t.slot = o.slot;
  FOR r IN SELECT * FROM old_rows o WHERE o.sent_at IS NOT NULL AND (o.status = 'sent' OR o.delivery_status IN ('bounced', 'complained')) LOOP
    UPDATE send_reputation_counts t SET
      sent = t.sent - (r.status = 'sent')::int,
      bounced = t.bounced - coalesce(r.delivery_status = 'bounced' AND coalesce(r.bounce_type, '') NOT LIKE '%OnAccountSuppressionList%', false)::int,
      complained = t.complained - coalesce(r.delivery_status = 'complained', false)::int
    WHERE t.day = (r.sent_at AT TIME ZONE 'UTC')::date
      AND ((t.subject = 'mailbox' AND t.subject_id = r.mailbox_id) OR (t.subject = 'campaign' AND t.subject_id = r.campaign_id));
  END LOOP;
  -- an enrolment whose ledger row is gone is due for that step again
  UPDATE campaign_leads cl
  SET scheduled_step = coalesce((SELECT max(ce.step_number) FROM campaign_emails ce WHERE ce.campaign_id = cl.campaign_id AND ce.lead_id = cl.lead_id), 0)
  FROM (SELECT DISTINCT campaign_id, lead_id FROM old_rows) o
  WHERE cl.campaign_id = o.campaign_id AND cl.lead_id = o.lead_id;
  RETURN NULL;
END $$;

-- Updates: per row, and only when something counted changes (a claim, an enqueue mark or an open
-- does not call it).
CREATE FUNCTION campaign_emails_count_update() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  created boolean := (OLD.status = 'cancelled') IS DISTINCT FROM (NEW.status = 'cancelled')
    OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id OR OLD.created_at IS DISTINCT FROM NEW.created_at;
  reputation boolean := (OLD.status = 'sent') IS DISTINCT FROM (NEW.status = 'sent')
    OR OLD.delivery_status IS DISTINCT FROM NEW.delivery_status OR OLD.bounce_type IS DISTINCT FROM NEW.bounce_type
    OR OLD.sent_at IS DISTINCT FROM NEW.sent_at OR OLD.mailbox_id IS DISTINCT FROM NEW.mailbox_id
    OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id;
BEGIN
  PERFORM bump_send_counts(OLD, -1, created, reputation);
  PERFORM bump_send_counts(NEW, 1, created, reputation);
  RETURN NULL;
END $$;

CREATE TRIGGER campaign_emails_count_insert AFTER INSERT ON campaign_emails
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_emails_count_insert();
CREATE TRIGGER campaign_emails_count_delete AFTER DELETE ON campaign_emails
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION campaign_emails_count_delete();
CREATE TRIGGER campaign_emails_count_update AFTER UPDATE ON campaign_emails FOR EACH ROW
  WHEN ((OLD.status = 'cancelled') IS DISTINCT FROM (NEW.status = 'cancelled')
     OR (OLD.status = 'sent') IS DISTINCT FROM (NEW.status = 'sent')
     OR OLD.delivery_status IS DISTINCT FROM NEW.delivery_status
     OR OLD.bounce_type IS DISTINCT FROM NEW.bounce_type
     OR OLD.sent_at IS DISTINCT FROM NEW.sent_at
     OR OLD.mailbox_id IS DISTINCT FROM NEW.mailbox_id
     OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id
     OR OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION campaign_emails_count_update();

-- The highest step of the enrolment that has a ledger row: the tick reads only enrolments whose
-- next step (current_step + 1) has none, through an index, instead of every due enrolment
-- of the campaign on every tick (those already scheduled and waiting for their send included).
ALTER TABLE campaign_leads ADD COLUMN scheduled_step integer NOT NULL DEFAULT 0;
-- The condition is an index column, not a partial index's predicate, so that ANALYZE keeps
-- statistics of it (the planner reads none for a partial index's expressions): it then knows how
-- few enrolments are left to schedule. Queries name it exactly so, with IS TRUE.
CREATE INDEX campaign_leads_to_schedule_idx
  ON campaign_leads (campaign_id, (status IN ('pending', 'in_progress') AND scheduled_step <= current_step), next_email_at NULLS FIRST, id);

-- what the history holds today
UPDATE campaign_leads cl SET scheduled_step = s.step
FROM (SELECT campaign_id, lead_id, max(step_number) AS step FROM campaign_emails GROUP BY 1, 2) s
WHERE cl.campaign_id = s.campaign_id AND cl.lead_id = s.lead_id;
INSERT INTO campaign_send_counts (workspace_id, campaign_id, slot, created)
SELECT workspace_id, campaign_id, send_count_slot(created_at), count(*) FROM campaign_emails WHERE status <> 'cancelled' GROUP BY 1, 2, 3;
INSERT INTO send_reputation_counts (workspace_id, subject, subject_id, day, sent, bounced, complained)
SELECT ce.workspace_id, s.subject, s.subject_id, (ce.sent_at AT TIME ZONE 'UTC')::date,
       count(*) FILTER (WHERE ce.status = 'sent'),
       count(*) FILTER (WHERE ce.delivery_status = 'bounced' AND coalesce(ce.bounce_type, '') NOT LIKE '%OnAccountSuppressionList%'),
       count(*) FILTER (WHERE ce.delivery_status = 'complained')
FROM campaign_emails ce
CROSS JOIN LATERAL (VALUES ('mailbox', ce.mailbox_id), ('campaign', ce.campaign_id)) s (subject, subject_id)
WHERE ce.sent_at IS NOT NULL AND s.subject_id IS NOT NULL AND (ce.status = 'sent' OR ce.delivery_status IN ('bounced', 'complained'))
GROUP BY 1, 2, 3, 4;
