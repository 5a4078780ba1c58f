import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The scaler's metrics (labels: component and queue names, actions and reasons: all bounded). */
export function createScalerMetrics(register = new Registry(), defaults = true) {
  if (defaults) collectDefaultMetrics({ register });
  return {
    register,
    decisions: new Counter({
      name: 'coldcopy_autoscaler_decisions_total',
      help: 'Scaling decisions by component, action (up, down, hold) and reason',
      labelNames: ['component', 'action', 'reason', 'applied'] as const,
      registers: [register],
    }),
    desired: new Gauge({
      name: 'coldcopy_autoscaler_desired_instances',
      help: 'Instance count the last decision asked for',
      labelNames: ['component'] as const,
      registers: [register],
    }),
    current: new Gauge({
      name: 'coldcopy_autoscaler_current_instances',
      help: 'instance_count in the app spec at the last read',
      labelNames: ['component'] as const,
      registers: [register],
    }),
    backlog: new Gauge({
      name: 'coldcopy_autoscaler_queue_backlog',
      help: 'Waiting jobs of the queue, every shard',
      labelNames: ['queue'] as const,
      registers: [register],
    }),
    oldestAge: new Gauge({
      name: 'coldcopy_autoscaler_queue_oldest_waiting_age_seconds',
      help: "Age of the queue's next job, largest over the shards (0 when nothing waits)",
      labelNames: ['queue'] as const,
      registers: [register],
    }),
    leader: new Gauge({ name: 'coldcopy_autoscaler_leader', help: '1 while this process holds the scaler lease', registers: [register] }),
    apiResponses: new Counter({
      name: 'coldcopy_autoscaler_api_responses_total',
      help: 'DigitalOcean API answers by method and status (0: no answer)',
      labelNames: ['method', 'status'] as const,
      registers: [register],
    }),
    applyFailures: new Counter({
      name: 'coldcopy_autoscaler_apply_failures_total',
      help: 'Updates not applied, by reason (deployment_in_progress, api_error, lease_lost, …)',
      labelNames: ['reason'] as const,
      registers: [register],
    }),
    lastTick: new Gauge({ name: 'coldcopy_autoscaler_last_tick_timestamp_seconds', help: 'When the last tick finished', registers: [register] }),
  };
}

export type ScalerMetrics = ReturnType<typeof createScalerMetrics>;
