-- Up Migration
-- The ledger's insert trigger moves each new row's enrolment on (campaign_leads.scheduled_step)
-- through the enrolments' lead_id index, one lookup per lead of the statement, instead of a join
-- the planner was free to make with a sequential scan of campaign_leads: with a tick's 500 new
-- rows it scanned the whole table while the campaign had up to a few tens of thousands of
-- enrolments (a cheaper plan by its estimate than 500 index descents), so a tick's cost grew with
-- the campaign. The lead ids come as an array from a subquery (`= ANY (ARRAY(...))`), whose
-- length the planner does not know and takes for small: the index scan is its plan whatever the
-- table's size. Same result as before; the counts part of the function is unchanged.
CREATE OR REPLACE FUNCTION campaign_emails_count_insert() RETURNS trigger
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
  WHERE cl.lead_id = ANY (ARRAY(SELECT DISTINCT n.lead_id FROM new_rows n))
    AND cl.campaign_id = s.campaign_id AND cl.lead_id = s.lead_id AND cl.scheduled_step < s.step;
  RETURN NULL;
END $$;
