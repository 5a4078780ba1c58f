import { Counter, Gauge, type Registry } from 'prom-client';

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
  const registers = registry ? [registry] : [];
  const refreshes = new Counter({
    name: 'coldcopy_analytics_view_refresh_total',
    help: 'refresh-analytics outcomes per materialized view (status: success, skipped, failed)',
    labelNames: ['view', 'status'],
    registers,
  });
  const fresh = new Gauge({
    name: 'coldcopy_analytics_view_last_success_timestamp_seconds',
    help: 'Unix time at which the view was last refreshed successfully',
    labelNames: ['view'],
    registers,
  });
  const exports = new Counter({
    name: 'coldcopy_export_total',
    help: 'export-data attempts that ended, by type, format and outcome',
    labelNames: ['type', 'format', 'outcome'],
    registers,
  });
  const exportRows = new Counter({ name: 'coldcopy_export_rows_total', help: 'rows written by completed exports', labelNames: ['type'], registers });
  const exportBytes = new Counter({ name: 'coldcopy_export_bytes_total', help: 'bytes stored by completed exports', labelNames: ['type'], registers });
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
