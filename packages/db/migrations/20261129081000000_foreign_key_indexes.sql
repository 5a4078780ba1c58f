-- Up Migration
-- Indexes on foreign-key columns that no index covered yet. Without them every DELETE of a lead
-- (GDPR erasure, unsubscribed-lead retention), campaign or mailbox scans each referencing table,
-- and the demo seed's replace spent most of its time there. The tables are new, so plain
-- CREATE INDEX inside the migration's transaction is fine; on a large live table use
-- CREATE INDEX CONCURRENTLY in a migration of its own without a transaction.

-- lead_id references (ON DELETE SET NULL / CASCADE)
CREATE INDEX conversation_context_lead_idx ON conversation_context (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX conversation_threads_lead_idx ON conversation_threads (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX data_portability_exports_lead_idx ON data_portability_exports (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX data_subject_requests_lead_idx ON data_subject_requests (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX meeting_requests_lead_idx ON meeting_requests (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX message_analysis_lead_idx ON message_analysis (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX message_sentiments_lead_idx ON message_sentiments (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX scheduled_meetings_lead_idx ON scheduled_meetings (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX sentiment_alerts_lead_idx ON sentiment_alerts (lead_id) WHERE lead_id IS NOT NULL;

-- campaign_id and mailbox_id references
CREATE INDEX email_threads_campaign_idx ON email_threads (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX email_threads_mailbox_idx ON email_threads (mailbox_id) WHERE mailbox_id IS NOT NULL;
CREATE INDEX report_runs_campaign_idx ON report_runs (campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX suppression_list_campaign_idx ON suppression_list (campaign_id) WHERE campaign_id IS NOT NULL;
-- also the per-mailbox daily cap: sends of one mailbox since midnight
CREATE INDEX campaign_emails_mailbox_sent_idx ON campaign_emails (mailbox_id, sent_at) WHERE mailbox_id IS NOT NULL;

-- other parents
CREATE INDEX campaign_leads_workspace_idx ON campaign_leads (workspace_id, status);
CREATE INDEX data_portability_exports_request_idx ON data_portability_exports (request_id);
CREATE INDEX scheduled_meetings_request_idx ON scheduled_meetings (meeting_request_id) WHERE meeting_request_id IS NOT NULL;
CREATE INDEX sentiment_alerts_thread_idx ON sentiment_alerts (thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX warmup_emails_sender_idx ON warmup_emails (sender_account_id);
CREATE INDEX warmup_emails_recipient_idx ON warmup_emails (recipient_account_id);
