import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { AnalyticsDeps } from '../deps.js';
import { calculateCampaignStatsHandler } from './calculate-campaign-stats.js';
import { exportDataHandler } from './export-data.js';
import { generateReportHandler } from './generate-report.js';
import { refreshAnalyticsHandler } from './refresh-analytics.js';

/** Every job of the analytics queue; a missing or mistyped handler fails to compile. */
export const handlers = {
  'calculate-campaign-stats': calculateCampaignStatsHandler,
  'refresh-analytics': refreshAnalyticsHandler,
  'export-data': exportDataHandler,
  'generate-report': generateReportHandler,
} satisfies HandlersFor<'analytics', AnalyticsDeps>;
