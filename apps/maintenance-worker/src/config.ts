/** The settings handlers read, derived from env in deps.ts (tests build it directly). */
export interface MaintenanceConfig {
  readonly cleanup: {
    readonly statementTimeoutMs: number;
    readonly lockTimeoutMs: number;
    readonly batchPauseMs: number;
    /** attempts of one batch that hit the lock timeout before the rule reports an error */
    readonly lockRetries: number;
  };
  readonly partitions: { readonly monthsAhead: number; readonly retentionMonths: number };
  readonly cacheWarming: { readonly maxWorkspaces: number; readonly maxKeysPerWorkspace: number };
}

export const defaultMaintenanceConfig: MaintenanceConfig = {
  cleanup: { statementTimeoutMs: 15_000, lockTimeoutMs: 100, batchPauseMs: 20, lockRetries: 20 },
  partitions: { monthsAhead: 4, retentionMonths: 13 },
  cacheWarming: { maxWorkspaces: 200, maxKeysPerWorkspace: 50 },
};
