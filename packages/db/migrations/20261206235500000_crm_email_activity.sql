-- Up Migration
-- HubSpot email activity logging (providers.md §7, issue 16): every email ColdCopy sends and every
-- reply it receives becomes an outbox row (object_type 'emails', operation 'upsert', local_id the
-- campaign_emails or email_messages id, payload.kind 'sent' | 'reply') for each active HubSpot
-- connection of the workspace. The rows are written by triggers, so they are added in the very
-- transaction that records the send (every path that turns a ledger row 'sent': the send, the
-- SES reconciliation, an import) or stores the inbound reply: no send is logged without its row
-- committing, and no committed send lacks one. A drain logs the email in HubSpot once the lead is
-- mapped to a contact; a lead that is never synced to HubSpot costs a row settled without a call.
-- Cost on the send path: one probe of integration_connections (workspace_id, provider) per row
-- that turns 'sent' (the WHEN clause keeps every other update of the ledger free of it).

CREATE FUNCTION enqueue_crm_email_activity(ws uuid, local uuid, kind text) RETURNS void
  LANGUAGE sql AS $$
  INSERT INTO integration_outbox (workspace_id, provider, object_type, operation, local_id, payload)
  SELECT ws, c.provider, 'emails', 'upsert', local, jsonb_build_object('kind', kind)
  FROM integration_connections c
  WHERE c.workspace_id = ws AND c.provider = 'hubspot' AND c.status = 'active'
  ON CONFLICT (workspace_id, provider, object_type, local_id, operation) WHERE status = 'pending' DO NOTHING
$$;

CREATE FUNCTION campaign_emails_crm_activity() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM enqueue_crm_email_activity(NEW.workspace_id, NEW.id, 'sent');
  RETURN NULL;
END $$;

CREATE FUNCTION email_messages_crm_activity() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM enqueue_crm_email_activity(NEW.workspace_id, NEW.id, 'reply');
  RETURN NULL;
END $$;

CREATE TRIGGER campaign_emails_crm_activity_sent AFTER UPDATE OF status ON campaign_emails FOR EACH ROW
  WHEN (NEW.status = 'sent' AND OLD.status IS DISTINCT FROM 'sent')
  EXECUTE FUNCTION campaign_emails_crm_activity();
CREATE TRIGGER campaign_emails_crm_activity_insert AFTER INSERT ON campaign_emails FOR EACH ROW
  WHEN (NEW.status = 'sent')
  EXECUTE FUNCTION campaign_emails_crm_activity();
-- a person's answer to one of our sends (email_type 'reply'); auto-replies, delivery reports and
-- unanswered mail are not conversations with the lead
CREATE TRIGGER email_messages_crm_activity AFTER INSERT ON email_messages FOR EACH ROW
  WHEN (NEW.direction = 'inbound' AND NEW.metadata ->> 'email_type' = 'reply')
  EXECUTE FUNCTION email_messages_crm_activity();
