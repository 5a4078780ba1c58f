/**
 * @coldcopy/db: Postgres for the workers.
 *
 * Tenancy rule (domain.md §8): workers bypass RLS, so every access function takes the job's
 * workspaceId first and scopes every statement by it; an id that belongs to another workspace is
 * refused with TenancyError before anything is read or written.
 */
export { boolEnv, DbConfigError, dbConfig, dbEnv, type DbEnv, type DbEnvValues, type DbSslMode, loadDbEnv } from './env.js';
export { ClaimLostError, LedgerStateError, MissingPartitionError, RecordNotFoundError, type ScopedTable, TenancyError } from './errors.js';
export {
  ANALYTICS_VIEWS,
  type AnalyticsView,
  type AnalyticsViewDefinition,
  listEmailEventsPartitions,
  maintainEmailEventsPartitions,
  type PartitionChange,
  type PartitionMaintenanceOptions,
  refreshAnalyticsView,
  type RefreshResult,
} from './maintenance.js';
export {
  clientConfig,
  closePool,
  createPool,
  type CreatePoolOptions,
  type Pool,
  type PoolClient,
  type Queryable,
  sslOptions,
  withTransaction,
} from './pool.js';
export * from './repositories/ai-budget.js';
export * from './repositories/ai-drafts.js';
export * from './repositories/ai-meetings.js';
export * from './repositories/ai-replies.js';
export * from './repositories/ai-sentiment.js';
export * from './repositories/analytics-exports.js';
export * from './repositories/analytics-reports.js';
export * from './repositories/analytics-stats.js';
export * from './repositories/analytics-views.js';
export * from './repositories/backups.js';
export * from './repositories/cache-warming.js';
export * from './repositories/calendar.js';
export * from './repositories/campaign-emails.js';
export * from './repositories/campaign-tick.js';
export * from './repositories/campaigns.js';
export * from './repositories/email-events.js';
export * from './repositories/enrichment.js';
export * from './repositories/enrolments.js';
export * from './repositories/integrations.js';
export * from './repositories/lead-deletion.js';
export * from './repositories/inbound-mail.js';
export * from './repositories/leads.js';
export * from './repositories/linkedin.js';
export * from './repositories/mailboxes.js';
export * from './repositories/sending.js';
export * from './repositories/retention.js';
export * from './repositories/suppression.js';
export * from './repositories/uploads.js';
export * from './repositories/user-notices.js';
export * from './repositories/warmup.js';
export * from './repositories/webhooks.js';
export * from './repositories/workspaces.js';
export * from './types.js';
