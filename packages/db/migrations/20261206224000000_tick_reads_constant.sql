-- Up Migration
-- The campaign tick's reads stay constant with the campaign's size (after send_counters):
--
-- The enrolments still to schedule are read by due time through an index range. The index column
-- is one expression, the due time of an enrolment still to schedule and NULL for every other
-- (`next_email_at IS NULL OR next_email_at <= now` is no range, and two separate columns give the
-- planner two independent estimates whose product it believes: it then scanned the table), so
-- ANALYZE's statistics of it tell the planner how few are due; the queries name it exactly so.
-- Before, every enrolment whose next step waits for days (each one the campaign has sent to) was
-- read on every tick.
DROP INDEX campaign_leads_to_schedule_idx;
CREATE INDEX campaign_leads_to_schedule_idx ON campaign_leads (
  campaign_id,
  (CASE WHEN status IN ('pending', 'in_progress') AND scheduled_step <= current_step THEN coalesce(next_email_at, '-infinity'::timestamptz) END),
  id);

-- Outcomes to settle (sending past the lease, unknown past the event window) per campaign: only
-- those rows, instead of the campaign's whole ledger on every tick.
CREATE INDEX campaign_emails_unsettled_idx ON campaign_emails (campaign_id, claimed_at) WHERE status IN ('sending', 'unknown');
