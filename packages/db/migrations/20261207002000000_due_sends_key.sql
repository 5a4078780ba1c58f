-- Up Migration
-- The campaign tick lists the claimable rows that need a send-email job (listDueCampaignEmails)
-- through an index of exactly those, in the order it reads them, instead of every claimable row of
-- the campaign: rows whose job is still waiting (enqueued, not claimed since) were read and
-- filtered out on every tick, and the planner, with statistics from when most of the ledger was
-- claimable, scanned the whole ledger instead. Those rows are as many as the campaign has scheduled
-- ahead of its sending, so a tick's cost grew with the campaign.
--
-- The key is when a row needs a job: '-infinity' when it never had one or was claimed since its
-- last (enqueued_at IS NULL OR claimed_at >= enqueued_at), else the later of its mark and its due
-- time; the tick asks for keys before now minus its re-enqueue interval, which is the condition
-- it had as three OR-ed terms. Ordered by the key, due time and id, the index serves the tick's
-- ORDER BY ... LIMIT as it is, so no plan has to read the rows that need nothing.
CREATE INDEX campaign_emails_needs_job_idx ON campaign_emails (
  campaign_id,
  (CASE WHEN enqueued_at IS NULL OR claimed_at >= enqueued_at THEN '-infinity'::timestamptz ELSE greatest(enqueued_at, scheduled_at) END),
  scheduled_at,
  id)
  WHERE status IN ('scheduled', 'retryable');
