/**
 * Operational side effects of the email worker: pausing the whole email queue (SES account paused
 * or suspended) and alerting a human. Ports, so handlers stay testable.
 */
export interface QueueControl {
  /** Pauses the email queue globally (every replica stops taking jobs) until an operator resumes it. */
  pauseEmailQueue(reason: string): Promise<void>;
}

export type AlertSeverity = 'page' | 'warning';

export interface Alerter {
  alert(severity: AlertSeverity, message: string, fields?: Record<string, unknown>): Promise<void>;
}

export function createFakeOperations() {
  const pauses: string[] = [];
  const alerts: Array<{ severity: AlertSeverity; message: string; fields?: Record<string, unknown> }> = [];
  const queueControl: QueueControl = {
    async pauseEmailQueue(reason) {
      pauses.push(reason);
    },
  };
  const alerter: Alerter = {
    async alert(severity, message, fields) {
      alerts.push({ severity, message, fields });
    },
  };
  return { queueControl, alerter, pauses, alerts };
}
