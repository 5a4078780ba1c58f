/**
 * Alerting a human, a port so handlers stay testable. (Pausing the whole email queue when SES
 * pauses the account is ctx.pauseQueue.)
 */

export type AlertSeverity = 'page' | 'warning';

export interface Alerter {
  alert(severity: AlertSeverity, message: string, fields?: Record<string, unknown>): Promise<void>;
}

export function createFakeOperations() {
  const alerts: Array<{ severity: AlertSeverity; message: string; fields?: Record<string, unknown> }> = [];
  const alerter: Alerter = {
    async alert(severity, message, fields) {
      alerts.push({ severity, message, fields });
    },
  };
  return { alerter, alerts };
}
