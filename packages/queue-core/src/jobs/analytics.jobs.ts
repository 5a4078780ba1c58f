import { z } from 'zod';
import { timeSlot } from './fields.js';
import { defineJob } from '../definitions/define-job.js';

/**
 * Analytics queue: campaign counters, materialized views, PDF reports and data exports
 * (domain.md §3, §5, §7). Heavy queries run here, never in the web request.
 */

/** The materialized views of domain.md §3. */
const materializedView = z.enum([
  'mv_campaign_analytics',
  'mv_campaign_daily',
  'mv_workspace_analytics',
  'mv_send_time_performance',
  'mv_lead_engagement',
  'mv_deliverability',
]);

/** Inclusive range of calendar days; `start` must not be after `end`. */
const dateRange = z
  .object({ start: z.iso.date(), end: z.iso.date() })
  .refine((r) => r.start <= r.end, { message: 'start must not be after end', path: ['end'] });

/** Recomputes campaign counters from the ledger and events (never incremented in place). */
export const calculateCampaignStats = defineJob({
  name: 'calculate-campaign-stats',
  queue: 'analytics',
  description: 'Recompute campaign and enrolment counters, analytics_summary and the cached performance',
  scope: 'workspace',
  payload: {
    /** default: every active campaign of the workspace */
    campaignId: z.uuid().optional(),
    /** the scheduler tick (every 5 min): part of the key */
    slot: timeSlot,
  },
  // domain.md: `campaign-stats:{id|all}:{slot}`, plus the workspace: `all` means all of *this*
  // workspace's campaigns.
  idempotencyKey: (p) => [p.workspaceId, p.campaignId ?? 'all', p.slot],
});

/**
 * Refreshes materialized views in dependency order under an advisory lock. The views hold every
 * workspace's rows, so one refresh serves all workspaces: the key leaves the workspace out, and
 * requests from several workspaces in one slot collapse into one job.
 */
export const refreshAnalytics = defineJob({
  name: 'refresh-analytics',
  queue: 'analytics',
  description: 'Refresh a group of materialized views concurrently, in dependency order, and log each run',
  // Global: the views hold every workspace's rows and the schedule has no workspace to name.
  scope: 'global',
  payload: {
    /** schedule group of domain.md §3 and §6, or `manual` for an on-demand refresh */
    group: z.enum(['every-15-min', 'every-30-min', 'hourly', 'every-6-hours', 'manual']),
    /** default: every view of the group (for `manual`: every view) */
    views: z.array(materializedView).min(1).max(6).optional(),
    /** refresh even when a view was refreshed less than its minimum interval ago */
    force: z.boolean().default(false),
    /** the scheduler tick: part of the key; absent for scheduled runs, whose Bull repeat job id is already unique per tick (schedules.ts) */
    slot: timeSlot.optional(),
  },
  idempotencyKey: (p) => [p.group, p.slot ?? 'unslotted', ...(p.force ? ['force'] : []), ...[...new Set(p.views ?? [])].sort()],
  options: { priority: 'low' },
});

/** Renders a PDF report into `coldcopy-exports`; emailing it is a separate step. */
export const generateReport = defineJob({
  name: 'generate-report',
  queue: 'analytics',
  description: 'Render a PDF report for a period into object storage and record the run',
  scope: 'workspace',
  payload: {
    // domain.md allows `reportId | reportType`. The type is always required (scheduled runs copy
    // it from the saved report) because defineJob cannot express "one of".
    reportType: z.enum(['campaign-performance', 'workspace-overview', 'deliverability', 'lead-engagement']),
    /** the saved (scheduled) report this run belongs to; absent for an ad-hoc report */
    reportId: z.uuid().optional(),
    /** limit the report to one campaign */
    campaignId: z.uuid().optional(),
    dateRange,
    format: z.enum(['pdf']).default('pdf'),
    /** send the finished report to these addresses (a separate step: a failed email keeps the PDF) */
    recipients: z.array(z.email().max(254)).min(1).max(20).optional(),
  },
  // domain.md: `report:{reportId}:{periodStart}`. Ad-hoc reports have no reportId: they are keyed
  // by workspace, type, campaign and the whole range instead.
  idempotencyKey: (p) =>
    p.reportId !== undefined ? [p.reportId, p.dateRange.start] : [p.workspaceId, p.reportType, p.campaignId ?? '-', p.dateRange.start, p.dateRange.end],
});

/** Writes a CSV, XLSX or JSON export for an `export_jobs` row and returns a signed URL. */
export const exportData = defineJob({
  name: 'export-data',
  queue: 'analytics',
  description: 'Export leads, campaigns, events, analytics or a GDPR data set to a signed download',
  scope: 'workspace',
  payload: {
    /** the `export_jobs` row the user sees progress on */
    exportJobId: z.uuid(),
    type: z.enum(['leads', 'campaigns', 'email_events', 'analytics', 'gdpr']),
    format: z.enum(['csv', 'xlsx', 'json']),
    /** columns to include, in order (default: every column of the type) */
    fields: z
      .array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a column name such as first_name'))
      .min(1)
      .max(100)
      .optional(),
    /** row filters; all given filters apply (AND) */
    filters: z
      .object({
        campaignIds: z.array(z.uuid()).min(1).max(100).optional(),
        /** for `gdpr`: the data subject's lead(s) */
        leadIds: z.array(z.uuid()).min(1).max(1000).optional(),
        /** status values of the exported table (e.g. lead or campaign status) */
        statuses: z.array(z.string().min(1).max(32)).min(1).max(20).optional(),
        tags: z.array(z.string().min(1).max(100)).min(1).max(50).optional(),
        createdFrom: z.iso.datetime({ offset: true }).optional(),
        createdTo: z.iso.datetime({ offset: true }).optional(),
      })
      .optional(),
  },
  idempotencyKey: (p) => [p.exportJobId],
});

export const analyticsJobs = [calculateCampaignStats, refreshAnalytics, generateReport, exportData] as const;
