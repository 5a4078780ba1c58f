-- Up Migration
-- mv_lead_engagement counted every `replied` event as a reply. process-webhook records auto-replies
-- (out-of-office, Auto-Submitted, ...) as `replied` events with metadata.auto_reply = true, and they
-- must not make a lead "hot" or add 30 points: the same rule as leads.engagement_score
-- (apps/email-worker/src/providers/pg-webhook-store.ts). Recreated WITH NO DATA like the original;
-- refresh_analytics_view() fills it on its next scheduled refresh.
DROP MATERIALIZED VIEW mv_lead_engagement;
CREATE MATERIALIZED VIEW mv_lead_engagement AS
SELECT
  s.lead_id,
  s.workspace_id,
  s.opens,
  s.clicks,
  s.replies,
  s.bounces,
  s.complaints,
  s.unsubscribes,
  s.last_event_at,
  least(100, s.opens * 10 + s.clicks * 20 + s.replies * 30)::integer AS engagement_score,
  CASE
    WHEN s.bounces > 0 OR s.complaints > 0 OR s.unsubscribes > 0 THEN 'unreachable'
    WHEN s.replies > 0 OR s.opens * 10 + s.clicks * 20 >= 60 THEN 'hot'
    WHEN s.opens * 10 + s.clicks * 20 >= 30 THEN 'warm'
    WHEN s.opens + s.clicks > 0 THEN 'cold'
    ELSE 'unengaged'
  END AS segment
FROM (
  SELECT
    e.lead_id                                                 AS lead_id,
    e.workspace_id                                            AS workspace_id,
    count(*) FILTER (WHERE e.event_type = 'opened')::integer       AS opens,
    count(*) FILTER (WHERE e.event_type = 'clicked')::integer      AS clicks,
    count(*) FILTER (WHERE e.event_type = 'replied'
                       AND coalesce(e.metadata->>'auto_reply', 'false') <> 'true')::integer AS replies,
    count(*) FILTER (WHERE e.event_type = 'bounced')::integer      AS bounces,
    count(*) FILTER (WHERE e.event_type = 'complained')::integer   AS complaints,
    count(*) FILTER (WHERE e.event_type = 'unsubscribed')::integer AS unsubscribes,
    max(e.created_at)                                         AS last_event_at
  FROM email_events e
  WHERE e.lead_id IS NOT NULL
    AND e.created_at >= now() - interval '180 days'
  GROUP BY e.lead_id, e.workspace_id
) s
WITH NO DATA;
CREATE UNIQUE INDEX mv_lead_engagement_pk ON mv_lead_engagement (lead_id);
CREATE INDEX mv_lead_engagement_workspace_idx ON mv_lead_engagement (workspace_id, engagement_score DESC);
