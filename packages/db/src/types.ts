/**
 * Row shapes of the tables the workers touch, as node-postgres returns them: snake_case column
 * names, timestamptz as Date, bigint and numeric as string (exact), jsonb parsed.
 */

export type JsonObject = { [key: string]: unknown };

export type WorkspaceStatus = 'trial' | 'active' | 'suspended' | 'cancelled';
export interface WorkspaceRow {
  id: string;
  name: string;
  slug: string;
  status: WorkspaceStatus;
  plan: string;
  settings: JsonObject;
  ai_tokens_balance: string;
  ai_tokens_used: string;
  last_active_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type MailboxStatus = 'warming' | 'active' | 'paused' | 'disabled';
export interface MailboxRow {
  id: string;
  workspace_id: string;
  email: string;
  domain: string;
  configuration_set: string | null;
  status: MailboxStatus;
  paused_reason: string | null;
  daily_cap: number;
  warmup_day: number;
  created_at: Date;
  updated_at: Date;
}

export type CampaignStatus = 'draft' | 'scheduled' | 'active' | 'paused' | 'completed';
export interface CampaignRow {
  id: string;
  workspace_id: string;
  created_by: string | null;
  name: string;
  description: string | null;
  type: 'sequence' | 'one-off' | 'drip';
  status: CampaignStatus;
  timezone: string;
  schedule_settings: {
    startDate?: string;
    sendBetween?: { start: string; end: string };
    excludeWeekends?: boolean;
  } & JsonObject;
  daily_limit: number;
  settings: { stop_on_reply?: boolean } & JsonObject;
  paused_reason: string | null;
  total_leads: number;
  sent_count: number;
  open_count: number;
  click_count: number;
  reply_count: number;
  bounce_count: number;
  next_run_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type StepCondition = 'always' | 'no_reply' | 'no_open' | 'opened' | 'clicked';
export interface CampaignStepRow {
  id: string;
  workspace_id: string;
  campaign_id: string;
  step_number: number;
  subject: string;
  body: string;
  delay_days: number;
  delay_hours: number;
  condition_type: StepCondition;
  condition_value: string | null;
  is_reply_to_previous: boolean;
  created_at: Date;
  updated_at: Date;
}

export type LeadStatus = 'new' | 'contacted' | 'replied' | 'qualified' | 'unqualified' | 'unsubscribed';
export interface LeadRow {
  id: string;
  workspace_id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  title: string | null;
  phone: string | null;
  website: string | null;
  linkedin_url: string | null;
  location: string | null;
  industry: string | null;
  status: LeadStatus;
  email_status: 'valid' | 'invalid' | 'risky' | 'unknown';
  email_checked_at: Date | null;
  score: number;
  engagement_score: number;
  tags: string[];
  custom_fields: JsonObject;
  enrichment_data: JsonObject;
  last_enriched_at: Date | null;
  last_contacted_at: Date | null;
  last_activity_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type EnrolmentStatus = 'pending' | 'in_progress' | 'replied' | 'completed' | 'failed' | 'unsubscribed' | 'bounced';
export interface CampaignLeadRow {
  id: string;
  workspace_id: string;
  campaign_id: string;
  lead_id: string;
  status: EnrolmentStatus;
  current_step: number;
  next_email_at: Date | null;
  last_email_at: Date | null;
  email_count: number;
  open_count: number;
  click_count: number;
  replied_at: Date | null;
  unsubscribed_at: Date | null;
  bounced_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export type SendStatus = 'scheduled' | 'sending' | 'retryable' | 'sent' | 'unknown' | 'failed' | 'failed_unknown' | 'cancelled';
export type DeliveryStatus = 'delivered' | 'bounced' | 'complained';
export interface CampaignEmailRow {
  id: string;
  workspace_id: string;
  campaign_id: string;
  lead_id: string;
  step_number: number;
  mailbox_id: string | null;
  status: SendStatus;
  delivery_status: DeliveryStatus | null;
  attempt: number;
  claimed_at: Date | null;
  scheduled_at: Date;
  /** when the campaign tick last enqueued this row's send-email job (null: never) */
  enqueued_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  replied_at: Date | null;
  bounced_at: Date | null;
  complained_at: Date | null;
  cancelled_at: Date | null;
  cancelled_reason: string | null;
  open_count: number;
  click_count: number;
  message_id: string | null;
  from_email: string | null;
  subject: string | null;
  content_html: string | null;
  content_text: string | null;
  consent_proof: JsonObject | null;
  bounce_type: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

export type EmailEventType = 'sent' | 'delivered' | 'opened' | 'clicked' | 'replied' | 'bounced' | 'complained' | 'unsubscribed';
export interface EmailEventRow {
  id: string;
  workspace_id: string;
  campaign_id: string | null;
  lead_id: string | null;
  campaign_email_id: string | null;
  event_type: EmailEventType;
  provider: string | null;
  provider_message_id: string | null;
  provider_event_id: string | null;
  metadata: JsonObject;
  created_at: Date;
}

export type SuppressionType = 'unsubscribe' | 'bounce' | 'complaint' | 'manual' | 'gdpr_request' | 'invalid';
export type SuppressionSource = 'link' | 'webhook' | 'api' | 'manual' | 'import';
export interface SuppressionRow {
  id: string;
  workspace_id: string | null;
  email: string;
  suppression_type: SuppressionType;
  reason: string | null;
  source: SuppressionSource;
  campaign_id: string | null;
  is_global: boolean;
  bounce_count: number;
  is_active: boolean;
  metadata: JsonObject;
  created_at: Date;
  updated_at: Date;
}
