import { Counter, type Registry } from 'prom-client';

/**
 * The worker's own series (scraped from its health port), read by ops/prometheus/alerts.yml.
 */
export interface MaintenanceMetrics {
  /** rows changed by a retention rule (dry runs are not counted) */
  retentionRows(rule: string, table: string, action: string, rows: number): void;
  /** a retention rule that failed for a workspace or globally */
  cleanupError(rule: string): void;
}

export function createMaintenanceMetrics(registry?: Registry): MaintenanceMetrics {
  const registers = registry ? [registry] : [];
  const rows = new Counter({
    name: 'coldcopy_retention_rows_total',
    help: 'rows deleted, anonymised, expired or archived by cleanup-old-data, by rule, table and action',
    labelNames: ['rule', 'table', 'action'],
    registers,
  });
  const errors = new Counter({
    name: 'coldcopy_cleanup_errors_total',
    help: 'cleanup-old-data rules that failed (per rule), alerting on any increase',
    labelNames: ['rule'],
    registers,
  });
  return {
    retentionRows(rule, table, action, n) {
      if (n > 0) rows.inc({ rule, table, action }, n);
    },
    cleanupError(rule) {
      errors.inc({ rule });
    },
  };
}
