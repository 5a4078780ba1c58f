import { declareMetrics } from '@coldcopy/queue-core/runtime';
import type { Registry } from 'prom-client';

/**
 * The worker's own series (scraped from its health port), read by ops/prometheus/alerts.yml:
 * refresh outcomes and freshness per view, export outcomes.
 */
export interface AnalyticsMetrics {
  viewRefreshed(view: string, status: 'success' | 'skipped' | 'failed', reason?: string): void;
  /** end of the view's last successful refresh */
  viewFreshAt(view: string, at: Date): void;
  exportFinished(type: string, format: string, outcome: 'completed' | 'failed', rows: number, bytes: number): void;
}

export function createAnalyticsMetrics(registry?: Registry): AnalyticsMetrics {
  const metric = declareMetrics(registry);
  const refreshes = metric.counter(
    'coldcopy_analytics_view_refresh_total',
    'refresh-analytics outcomes per materialized view (status: success, skipped, failed)',
    ['view', 'status'],
  );
  const fresh = metric.gauge('coldcopy_analytics_view_last_success_timestamp_seconds', 'Unix time at which the view was last refreshed successfully', ['view']);
  const exports = metric.counter('coldcopy_export_total', 'export-data attempts that ended, by type, format and outcome', ['type', 'format', 'outcome']);
  const exportRows = metric.counter('coldcopy_export_rows_total', 'rows written by completed exports', ['type']);
  const exportBytes = metric.counter('coldcopy_export_bytes_total', 'bytes stored by completed exports', ['type']);
  return {
    viewRefreshed(view, status) {
      refreshes.inc({ view, status });
    },
    viewFreshAt(view, at) {
      fresh.set({ view }, at.getTime() / 1000);
    },
    exportFinished(type, format, outcome, rows, bytes) {
      exports.inc({ type, format, outcome });
      if (outcome === 'completed') {
        exportRows.inc({ type }, rows);
        exportBytes.inc({ type }, bytes);
      }
    },
  };
}
