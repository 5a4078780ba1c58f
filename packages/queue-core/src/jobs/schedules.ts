import type { AnyJobDefinition, JobInput } from '../definitions/define-job.js';
import type { Priority } from '../definitions/priorities.js';
import type { QueueName } from '../definitions/queues.js';
import { backupData, cacheWarming, cleanupOldData } from './maintenance.jobs.js';
import { refreshAnalytics } from './analytics.jobs.js';
import { sendBulkEmail, warmEmail } from './email.jobs.js';
import { syncCalendar, syncHubspot, syncLinkedin, syncSalesforce } from './integration.jobs.js';

/**
 * Repeatable schedules, declared next to the job definitions (docs/schedules-and-retention.md, all UTC). The worker
 * of each queue reconciles Redis with the schedules of its queue at startup
 * (schedule-reconciler.ts): missing ones are added, changed ones replaced, stale ones removed
 * together with their armed run.
 *
 * Only static data is scheduled here: global jobs, or the global fan-out form of a workspace job
 * (the campaign tick: `send-bulk-email` with `fanOut: true` enqueues one per-campaign tick per due
 * campaign; the warm-up batches and day advance: `warm-email` with `fanOut: true`; the CRM syncs and
 * the LinkedIn check: `sync-hubspot`, `sync-salesforce`, `sync-linkedin` with `fanOut: true`). Time-slot
 * fields are absent in scheduled runs (the Bull repeat job id is unique per tick; a handler that
 * needs the slot derives it from the run time). Not scheduled yet because each needs a fan-out
 * that does not exist: campaign stats (calculate-campaign-stats per campaign), send-ledger reconcile
 * beyond the campaigns the tick settles (paused ones), credit reset and GDPR deadline alerts.
 */
export interface Schedule<J extends AnyJobDefinition = AnyJobDefinition> {
  /** stable name of the schedule: lower-case letters, digits and `-` (part of the Bull job id) */
  readonly key: string;
  readonly job: J;
  /** five-field cron expression */
  readonly cron: string;
  /** IANA time zone; always UTC here (one container in local time was a ColdCopy bug) */
  readonly tz: string;
  /** the job's input, validated by its schema like any enqueue */
  readonly data: JobInput<J>;
  /** default: the job's own priority (every job on a queue has one: priorities.ts) */
  readonly priority?: Priority;
  readonly description: string;
}

function schedule<J extends AnyJobDefinition>(job: J, spec: Omit<Schedule<J>, 'job' | 'tz'> & { tz?: string }): Schedule {
  return Object.freeze({ ...spec, job, tz: spec.tz ?? 'UTC' });
}

export const SCHEDULES: readonly Schedule[] = Object.freeze([
  // analytics views by refresh group (domain.md §3)
  schedule(refreshAnalytics, {
    key: 'refresh-analytics-15-min',
    cron: '*/15 * * * *',
    data: { group: 'every-15-min', requestedBy: 'system' },
    description: 'mv_campaign_analytics',
  }),
  schedule(refreshAnalytics, {
    key: 'refresh-analytics-30-min',
    cron: '*/30 * * * *',
    data: { group: 'every-30-min', requestedBy: 'system' },
    description: 'mv_deliverability',
  }),
  schedule(refreshAnalytics, {
    key: 'refresh-analytics-hourly',
    cron: '0 * * * *',
    data: { group: 'hourly', requestedBy: 'system' },
    description: 'mv_campaign_daily, mv_workspace_analytics (after the campaign view), mv_send_time_performance',
  }),
  schedule(refreshAnalytics, {
    key: 'refresh-analytics-6-hours',
    cron: '0 */6 * * *',
    data: { group: 'every-6-hours', requestedBy: 'system' },
    description: 'mv_lead_engagement',
  }),
  // maintenance: staggered so no two heavy runs start together (ColdCopy ran five at 02:00);
  // the hourly and half-hourly light jobs avoid the minutes of the nightly ones
  schedule(cacheWarming, {
    key: 'cache-warming',
    cron: '10,40 * * * *',
    data: { requestedBy: 'system' },
    description: 'warm every cache scope',
  }),
  schedule(cleanupOldData, {
    key: 'enrichment-cache-purge',
    cron: '5 * * * *',
    data: { only: ['enrichment_cache'], requestedBy: 'system' },
    description: 'hourly purge of expired enrichment_cache rows',
  }),
  schedule(cleanupOldData, {
    key: 'consent-expiry',
    cron: '0 1 * * *',
    data: { only: ['consent_expiry'], requestedBy: 'system' },
    description: 'granted consent records past expires_at become expired',
  }),
  schedule(cleanupOldData, {
    key: 'cleanup-old-data',
    cron: '0 2 * * *',
    data: { requestedBy: 'system' },
    description: 'every retention rule of docs/schedules-and-retention.md except partitions and consent expiry',
  }),
  schedule(cleanupOldData, {
    key: 'partition-maintenance',
    cron: '30 2 * * *',
    data: { only: ['email_event_partitions'], requestedBy: 'system' },
    description: 'email_events: create the months ahead, drop whole months past the 13-month floor',
  }),
  // The first backup of each month is kept 365 days (compliance), the others 30 days.
  schedule(backupData, {
    key: 'backup-data-monthly',
    cron: '0 3 1 * *',
    data: { kind: 'full', retentionCategory: 'compliance', requestedBy: 'system' },
    description: 'full encrypted backup on the 1st, kept as compliance',
  }),
  schedule(backupData, {
    key: 'backup-data-daily',
    cron: '0 3 2-31 * *',
    data: { kind: 'full', retentionCategory: 'standard', requestedBy: 'system' },
    description: 'full encrypted backup, other days',
  }),
  schedule(backupData, {
    key: 'backup-verify',
    cron: '0 4 * * 0',
    data: { kind: 'verify', requestedBy: 'system' },
    description: 'weekly: download the newest backup, check its checksum, decrypt it, restore it into a scratch database and compare row counts',
  }),
  // email: the campaign tick (docs/schedules-and-retention.md), a fan-out; reconciled by the email worker
  schedule(sendBulkEmail, {
    key: 'campaign-tick',
    cron: '*/5 * * * *',
    data: { fanOut: true, requestedBy: 'system' },
    description: 'send-bulk-email per active (or scheduled and due) campaign of every workspace',
  }),
  // email: warm-up (docs/schedules-and-retention.md), fan-outs of warm-email; reconciled by the email worker
  schedule(warmEmail, {
    key: 'warm-up-sends',
    cron: '0 8,12,16,20 * * *',
    data: { fanOut: true, requestedBy: 'system' },
    description: "warm-email batch: a quarter of the day's cap per eligible warm-up of every workspace",
  }),
  schedule(warmEmail, {
    key: 'warm-up-day-advance',
    cron: '0 0 * * *',
    data: { fanOut: true, advanceDay: true, requestedBy: 'system' },
    description: 'warm-up ramps move to the next day (next cap) when yesterday passed the gates, else hold',
  }),
  // integration: calendars (domain.md §6), a fan-out; reconciled by the integration worker
  schedule(syncCalendar, {
    key: 'calendar-sync',
    cron: '*/15 * * * *',
    data: { fanOut: true, requestedBy: 'system' },
    description: 'sync-calendar (incremental) per active calendar account whose sync_frequency_minutes has passed since its last sync',
  }),
  // integration: fan-outs over the active connections (docs/schedules-and-retention.md); reconciled by
  // the integration worker. The pulls enqueue only connections whose sync_frequency_minutes has
  // passed since their last successful pull, so a 60-minute connection runs every fourth tick.
  schedule(syncHubspot, {
    key: 'hubspot-outbox-drain',
    cron: '*/5 * * * *',
    data: { fanOut: true, mode: 'outbox', requestedBy: 'system' },
    description: 'sync-hubspot outbox drain per active HubSpot connection',
  }),
  schedule(syncHubspot, {
    key: 'hubspot-incremental',
    cron: '*/15 * * * *',
    data: { fanOut: true, mode: 'incremental', requestedBy: 'system' },
    description: 'sync-hubspot pull per HubSpot connection due by its sync_frequency_minutes (webhooks pull in between)',
  }),
  schedule(syncSalesforce, {
    key: 'salesforce-outbox',
    cron: '*/5 * * * *',
    data: { fanOut: true, syncType: 'outbox', requestedBy: 'system' },
    description: 'sync-salesforce outbox push per active Salesforce connection',
  }),
  schedule(syncSalesforce, {
    key: 'salesforce-incremental',
    cron: '*/15 * * * *',
    data: { fanOut: true, syncType: 'incremental', requestedBy: 'system' },
    description: 'sync-salesforce pull per Salesforce connection due by its sync_frequency_minutes',
  }),
  schedule(syncLinkedin, {
    key: 'linkedin-identity-check',
    cron: '0 6 * * *',
    data: { fanOut: true, jobType: 'identity', requestedBy: 'system' },
    description: 'sync-linkedin identity and token-expiry check per workspace with an active LinkedIn sign-in',
  }),
]);

/** The schedules whose jobs run on a queue, in declaration order. */
export function schedulesOn(queue: QueueName, schedules: readonly Schedule[] = SCHEDULES): Schedule[] {
  return schedules.filter((s) => s.job.queue === queue);
}
