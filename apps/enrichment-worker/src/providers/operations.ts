/** Alerts are error logs with `alert: true`; ops routes them to the pager (ops.md). Fake: memory. */
export interface Alerter {
  alert(severity: 'critical' | 'warning', message: string, fields: Record<string, unknown>): Promise<void>;
}

export function createFakeAlerter(): Alerter & { alerts: Array<{ severity: string; message: string; fields: Record<string, unknown> }> } {
  const alerts: Array<{ severity: string; message: string; fields: Record<string, unknown> }> = [];
  return {
    alerts,
    async alert(severity, message, fields) {
      alerts.push({ severity, message, fields });
    },
  };
}
