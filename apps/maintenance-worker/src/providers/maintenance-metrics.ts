import { Counter, Gauge, type Registry } from 'prom-client';

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
  const backupAt = new Gauge({
    name: 'coldcopy_backup_last_success_timestamp_seconds',
    help: 'Unix time of the newest stored backup (backup-data), read from its metadata at startup',
    registers,
  });
  const verifyAt = new Gauge({
    name: 'coldcopy_backup_verify_last_success_timestamp_seconds',
    help: 'Unix time of the last successful backup verification (test restore)',
    registers,
  });
  let latestBackup = 0;
  const verifyFailures = new Counter({
    name: 'coldcopy_backup_verify_failures_total',
    help: 'backup verifications that failed (checksum, decryption, restore or row counts)',
    registers,
  });
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
