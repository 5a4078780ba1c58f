import { declareMetrics } from '@coldcopy/queue-core/runtime';
import type { Registry } from 'prom-client';

/**
 * The worker's own series (scraped from its health port), read by ops/prometheus/alerts.yml.
 */
export interface MaintenanceMetrics {
  /** rows changed by a retention rule (dry runs are not counted) */
  retentionRows(rule: string, table: string, action: string, rows: number): void;
  /** a retention rule that failed for a workspace or globally */
  cleanupError(rule: string): void;
  /** a backup and its metadata were stored (also set at startup from the newest metadata) */
  backupSucceeded(at: Date): void;
  verifySucceeded(at: Date): void;
  verifyFailed(): void;
}

export function createMaintenanceMetrics(registry?: Registry): MaintenanceMetrics {
  const metric = declareMetrics(registry);
  const rows = metric.counter('coldcopy_retention_rows_total', 'rows deleted, anonymised, expired or archived by cleanup-old-data, by rule, table and action', [
    'rule',
    'table',
    'action',
  ]);
  const errors = metric.counter('coldcopy_cleanup_errors_total', 'cleanup-old-data rules that failed (per rule), alerting on any increase', ['rule']);
  const backupAt = metric.gauge(
    'coldcopy_backup_last_success_timestamp_seconds',
    'Unix time of the newest stored backup (backup-data), read from its metadata at startup',
  );
  const verifyAt = metric.gauge('coldcopy_backup_verify_last_success_timestamp_seconds', 'Unix time of the last successful backup verification (test restore)');
  let latestBackup = 0;
  const verifyFailures = metric.counter(
    'coldcopy_backup_verify_failures_total',
    'backup verifications that failed (checksum, decryption, restore or row counts)',
  );
  return {
    backupSucceeded(at) {
      latestBackup = Math.max(latestBackup, at.getTime() / 1000);
      backupAt.set(latestBackup);
    },
    verifySucceeded(at) {
      verifyAt.set(at.getTime() / 1000);
    },
    verifyFailed() {
      verifyFailures.inc();
    },
    retentionRows(rule, table, action, n) {
      if (n > 0) rows.inc({ rule, table, action }, n);
    },
    cleanupError(rule) {
      errors.inc({ rule });
    },
  };
}
