/** The settings handlers read, derived from env in deps.ts (tests build it directly). */
export interface AnalyticsConfig {
  readonly stats: { readonly statementTimeoutMs: number; readonly summaryDays: number };
  readonly refresh: { readonly statementTimeoutMs: number; readonly lockTimeoutMs: number; readonly staleAfterMs: number };
  readonly exports: {
    readonly maxBytes: number;
    readonly batchRows: number;
    readonly statementTimeoutMs: number;
    readonly xlsxMaxRowsPerSheet: number;
  };
}

export const defaultAnalyticsConfig: AnalyticsConfig = {
  stats: { statementTimeoutMs: 30_000, summaryDays: 3 },
  refresh: { statementTimeoutMs: 900_000, lockTimeoutMs: 10_000, staleAfterMs: 7_200_000 },
  exports: { maxBytes: 500 * 1024 * 1024, batchRows: 2_000, statementTimeoutMs: 120_000, xlsxMaxRowsPerSheet: 1_048_576 },
};
