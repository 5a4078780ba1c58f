-- Up Migration
-- Materialized views for analytics (domain.md §3). Each has a UNIQUE index on plain columns (no
-- expression, no WHERE), which REFRESH ... CONCURRENTLY requires. They are created WITH NO DATA so
-- this migration stays fast on a large database; refresh_analytics_view() populates a view
-- without CONCURRENTLY the first time. Views have no RLS: never grant them to end-user roles;
-- workers always filter by workspace_id.

-- Per campaign, from the send ledger (one row per recipient and step).
CREATE MATERIALIZED VIEW mv_campaign_analytics AS
SELECT
  c.id                                                            AS campaign_id,
  c.workspace_id                                                  AS workspace_id,
  c.name                                                          AS campaign_name,
  c.status                                                        AS campaign_status,
  count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL)              AS sent,
  count(ce.id) FILTER (WHERE ce.delivered_at IS NOT NULL)         AS delivered,
  count(ce.id) FILTER (WHERE ce.delivery_status = 'bounced')      AS bounced,
  count(ce.id) FILTER (WHERE ce.delivery_status = 'complained')   AS complaints,
  count(ce.id) FILTER (WHERE ce.opened_at IS NOT NULL)            AS unique_opens,
  count(ce.id) FILTER (WHERE ce.clicked_at IS NOT NULL)           AS unique_clicks,
  coalesce(sum(ce.open_count), 0)::bigint                         AS total_opens,
  coalesce(sum(ce.click_count), 0)::bigint                        AS total_clicks,
  count(ce.id) FILTER (WHERE ce.replied_at IS NOT NULL)           AS replies,
  round(count(ce.id) FILTER (WHERE ce.delivered_at IS NOT NULL)::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS delivery_rate,
  round(count(ce.id) FILTER (WHERE ce.opened_at IS NOT NULL)::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS open_rate,
  round(count(ce.id) FILTER (WHERE ce.clicked_at IS NOT NULL)::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS click_rate,
  round(count(ce.id) FILTER (WHERE ce.replied_at IS NOT NULL)::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS reply_rate,
  round(count(ce.id) FILTER (WHERE ce.delivery_status = 'bounced')::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS bounce_rate,
  round(count(ce.id) FILTER (WHERE ce.delivery_status = 'complained')::numeric
        / nullif(count(ce.id) FILTER (WHERE ce.sent_at IS NOT NULL), 0), 4) AS complaint_rate,
  max(ce.sent_at)                                                 AS last_sent_at,
  now()                                                           AS refreshed_at
FROM campaigns c
LEFT JOIN campaign_emails ce ON ce.campaign_id = c.id AND ce.workspace_id = c.workspace_id
WHERE c.deleted_at IS NULL
GROUP BY c.id, c.workspace_id, c.name, c.status
WITH NO DATA;
CREATE UNIQUE INDEX mv_campaign_analytics_pk ON mv_campaign_analytics (campaign_id);
CREATE INDEX mv_campaign_analytics_workspace_idx ON mv_campaign_analytics (workspace_id);

-- Campaign x day (UTC), last 90 days, from events.
CREATE MATERIALIZED VIEW mv_campaign_daily AS
SELECT
  e.campaign_id                                                          AS campaign_id,
  (e.created_at AT TIME ZONE 'UTC')::date                                AS day,
  e.workspace_id                                                         AS workspace_id,
  count(*) FILTER (WHERE e.event_type = 'sent')                          AS sent,
  count(*) FILTER (WHERE e.event_type = 'delivered')                     AS delivered,
  count(*) FILTER (WHERE e.event_type = 'opened')                        AS opens,
  count(DISTINCT e.campaign_email_id) FILTER (WHERE e.event_type = 'opened')  AS unique_opens,
  count(*) FILTER (WHERE e.event_type = 'clicked')                       AS clicks,
  count(DISTINCT e.campaign_email_id) FILTER (WHERE e.event_type = 'clicked') AS unique_clicks,
  count(*) FILTER (WHERE e.event_type = 'replied')                       AS replies,
  count(*) FILTER (WHERE e.event_type = 'bounced')                       AS bounces,
  count(*) FILTER (WHERE e.event_type = 'complained')                    AS complaints,
  count(*) FILTER (WHERE e.event_type = 'unsubscribed')                  AS unsubscribes
FROM email_events e
WHERE e.campaign_id IS NOT NULL
  AND e.created_at >= date_trunc('day', now()) - interval '90 days'
GROUP BY e.campaign_id, (e.created_at AT TIME ZONE 'UTC')::date, e.workspace_id
WITH NO DATA;
CREATE UNIQUE INDEX mv_campaign_daily_pk ON mv_campaign_daily (campaign_id, day);
CREATE INDEX mv_campaign_daily_workspace_idx ON mv_campaign_daily (workspace_id, day);

-- Workspace totals, built on mv_campaign_analytics: refresh it after that view.
CREATE MATERIALIZED VIEW mv_workspace_analytics AS
SELECT
  ca.workspace_id                                                   AS workspace_id,
  count(*)                                                          AS campaigns,
  count(*) FILTER (WHERE ca.campaign_status = 'active')             AS active_campaigns,
  sum(ca.sent)::bigint                                              AS sent,
  sum(ca.delivered)::bigint                                         AS delivered,
  sum(ca.bounced)::bigint                                           AS bounced,
  sum(ca.complaints)::bigint                                        AS complaints,
  sum(ca.unique_opens)::bigint                                      AS unique_opens,
  sum(ca.unique_clicks)::bigint                                     AS unique_clicks,
  sum(ca.replies)::bigint                                           AS replies,
  round(sum(ca.unique_opens)::numeric / nullif(sum(ca.sent), 0), 4)  AS open_rate,
  round(sum(ca.unique_clicks)::numeric / nullif(sum(ca.sent), 0), 4) AS click_rate,
  round(sum(ca.replies)::numeric / nullif(sum(ca.sent), 0), 4)       AS reply_rate,
  round(sum(ca.bounced)::numeric / nullif(sum(ca.sent), 0), 4)       AS bounce_rate,
  max(ca.last_sent_at)                                              AS last_sent_at,
  now()                                                             AS refreshed_at
FROM mv_campaign_analytics ca
GROUP BY ca.workspace_id
WITH NO DATA;
CREATE UNIQUE INDEX mv_workspace_analytics_pk ON mv_workspace_analytics (workspace_id);

-- Workspace x send hour (0-23, UTC) x ISO weekday (1 = Monday), last 90 days.
CREATE MATERIALIZED VIEW mv_send_time_performance AS
SELECT
  ce.workspace_id                                                       AS workspace_id,
  extract(hour FROM ce.sent_at AT TIME ZONE 'UTC')::integer             AS send_hour,
  extract(isodow FROM ce.sent_at AT TIME ZONE 'UTC')::integer           AS day_of_week,
  count(*)                                                              AS sent,
  count(*) FILTER (WHERE ce.opened_at IS NOT NULL)                      AS opened,
  count(*) FILTER (WHERE ce.clicked_at IS NOT NULL)                     AS clicked,
  count(*) FILTER (WHERE ce.replied_at IS NOT NULL)                     AS replied,
  round(count(*) FILTER (WHERE ce.opened_at IS NOT NULL)::numeric / count(*), 4)  AS open_rate,
  round(count(*) FILTER (WHERE ce.clicked_at IS NOT NULL)::numeric / count(*), 4) AS click_rate,
  round(count(*) FILTER (WHERE ce.replied_at IS NOT NULL)::numeric / count(*), 4) AS reply_rate
FROM campaign_emails ce
WHERE ce.sent_at IS NOT NULL
  AND ce.sent_at >= now() - interval '90 days'
GROUP BY ce.workspace_id,
         extract(hour FROM ce.sent_at AT TIME ZONE 'UTC')::integer,
         extract(isodow FROM ce.sent_at AT TIME ZONE 'UTC')::integer
WITH NO DATA;
CREATE UNIQUE INDEX mv_send_time_performance_pk ON mv_send_time_performance (workspace_id, send_hour, day_of_week);

-- Lead engagement over the last 180 days: +10 per open, +20 per click, +30 per reply (capped at
-- 100), and a segment. Only leads with at least one event appear.
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
    count(*) FILTER (WHERE e.event_type = 'replied')::integer      AS replies,
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

-- Workspace x sending domain x day (UTC), last 90 days.
CREATE MATERIALIZED VIEW mv_deliverability AS
SELECT
  d.workspace_id,
  d.domain,
  d.day,
  count(*)                                                        AS sent,
  count(*) FILTER (WHERE d.delivered_at IS NOT NULL)              AS delivered,
  count(*) FILTER (WHERE d.delivery_status = 'bounced')           AS bounced,
  count(*) FILTER (WHERE d.delivery_status = 'bounced' AND d.bounce_type = 'Permanent') AS hard_bounced,
  count(*) FILTER (WHERE d.delivery_status = 'complained')        AS complained,
  round(count(*) FILTER (WHERE d.delivered_at IS NOT NULL)::numeric / count(*), 4)       AS delivery_rate,
  round(count(*) FILTER (WHERE d.delivery_status = 'bounced')::numeric / count(*), 4)    AS bounce_rate,
  round(count(*) FILTER (WHERE d.delivery_status = 'complained')::numeric / count(*), 4) AS complaint_rate
FROM (
  SELECT
    ce.workspace_id,
    coalesce(m.domain, nullif(split_part(ce.from_email, '@', 2), ''), 'unknown') AS domain,
    (ce.sent_at AT TIME ZONE 'UTC')::date AS day,
    ce.delivered_at,
    ce.delivery_status,
    ce.bounce_type
  FROM campaign_emails ce
  LEFT JOIN mailboxes m ON m.id = ce.mailbox_id AND m.workspace_id = ce.workspace_id
  WHERE ce.sent_at IS NOT NULL
    AND ce.sent_at >= date_trunc('day', now()) - interval '90 days'
) d
GROUP BY d.workspace_id, d.domain, d.day
WITH NO DATA;
CREATE UNIQUE INDEX mv_deliverability_pk ON mv_deliverability (workspace_id, domain, day);

-- Owner-run refresh (Postgres 15/16 need the owner to refresh; SECURITY DEFINER lets the worker
-- role call it). The first refresh of an unpopulated view runs without CONCURRENTLY; a refresh
-- already running for the same view makes this call return 'skipped' instead of queueing.
CREATE FUNCTION refresh_analytics_view(p_view text, p_concurrently boolean DEFAULT true)
RETURNS TABLE (view_name text, status text, used_concurrently boolean, duration_ms integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_populated boolean;
  v_conc      boolean;
  v_started   timestamptz := clock_timestamp();
  v_ms        integer;
BEGIN
  SELECT m.ispopulated INTO v_populated
  FROM pg_matviews m
  WHERE m.schemaname = 'public' AND m.matviewname = p_view AND m.matviewname LIKE 'mv\_%';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown analytics view "%"', p_view USING ERRCODE = '42P01';
  END IF;

  IF NOT pg_try_advisory_xact_lock(hashtext('coldcopy:refresh:' || p_view)) THEN
    INSERT INTO materialized_view_refresh_log (view_name, used_concurrently, status, duration_ms, error, started_at)
    VALUES (p_view, p_concurrently, 'skipped', 0, 'refresh already running', v_started);
    RETURN QUERY SELECT p_view, 'skipped'::text, p_concurrently, 0;
    RETURN;
  END IF;

  v_conc := p_concurrently AND v_populated;
  IF v_conc THEN
    EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY public.%I', p_view);
  ELSE
    EXECUTE format('REFRESH MATERIALIZED VIEW public.%I', p_view);
  END IF;
  v_ms := (extract(epoch FROM clock_timestamp() - v_started) * 1000)::integer;

  INSERT INTO materialized_view_refresh_log (view_name, used_concurrently, status, duration_ms, started_at)
  VALUES (p_view, v_conc, 'success', v_ms, v_started);
  RETURN QUERY SELECT p_view, 'success'::text, v_conc, v_ms;
END
$$;

-- All views in dependency order (mv_workspace_analytics after mv_campaign_analytics).
CREATE FUNCTION refresh_all_analytics_views(p_concurrently boolean DEFAULT true)
RETURNS TABLE (view_name text, status text, used_concurrently boolean, duration_ms integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v text;
BEGIN
  FOREACH v IN ARRAY ARRAY['mv_campaign_analytics', 'mv_workspace_analytics', 'mv_campaign_daily',
                           'mv_send_time_performance', 'mv_lead_engagement', 'mv_deliverability'] LOOP
    RETURN QUERY SELECT * FROM refresh_analytics_view(v, p_concurrently);
  END LOOP;
END
$$;

REVOKE ALL ON FUNCTION refresh_analytics_view(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION refresh_all_analytics_views(boolean) FROM PUBLIC;

-- Views carry no RLS: take them away from every role but the owner, then hand them (and the
-- refresh functions) to the worker roles that exist on this server. Supabase's default privileges
-- would otherwise give anon/authenticated SELECT, which leaks across tenants.
DO $$
DECLARE
  v text;
  r text;
BEGIN
  FOREACH v IN ARRAY ARRAY['mv_campaign_analytics', 'mv_campaign_daily', 'mv_workspace_analytics',
                           'mv_send_time_performance', 'mv_lead_engagement', 'mv_deliverability'] LOOP
    EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC', v);
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        EXECUTE format('REVOKE ALL ON public.%I FROM %I', v, r);
      END IF;
    END LOOP;
    FOREACH r IN ARRAY ARRAY['service_role', 'coldcopy_worker'] LOOP
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        EXECUTE format('GRANT SELECT ON public.%I TO %I', v, r);
      END IF;
    END LOOP;
  END LOOP;
  FOREACH r IN ARRAY ARRAY['service_role', 'coldcopy_worker'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION refresh_analytics_view(text, boolean) TO %I', r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION refresh_all_analytics_views(boolean) TO %I', r);
      EXECUTE format('GRANT EXECUTE ON FUNCTION maintain_email_events_partitions(integer, integer, timestamptz) TO %I', r);
    END IF;
  END LOOP;
END
$$;
