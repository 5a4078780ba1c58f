import type { WorkerRule } from './config.js';

/**
 * The scaling decision of one worker component: a pure function of the rule, what the queue looks
 * like now, the component's current instance count and what the scaler remembers (kept in Redis so
 * a restarted or newly elected scaler continues the same cooldowns and hold).
 *
 * Hysteresis: up above `scaleUpBacklog` (or the oldest-age trigger), down only below
 * `scaleDownBacklog`, and only after the backlog stayed there `scaleDownHoldSeconds` without a
 * break; between the two nothing moves. Cooldowns count from the component's last change, so a
 * change is never followed by its opposite before `scaleDownCooldownSeconds`/`scaleUpCooldownSeconds`.
 * Each further step down needs a new full hold. The count always ends within [min, max]: a count
 * outside (set by hand, or a changed rule) is brought back at once, whatever the cooldown.
 */

export interface Observation {
  /** waiting jobs of the queue, every shard (paused included) */
  readonly backlog: number;
  /** seconds the next job has waited, the largest over the shards; null when nothing waits */
  readonly oldestAgeSeconds: number | null;
}

export interface ScalerMemory {
  /** ms: when this scaler last changed the component */
  readonly lastChangeAt: number | null;
  /** ms: since when the backlog has been below `scaleDownBacklog` without a break */
  readonly lowSince: number | null;
}

export const EMPTY_MEMORY: ScalerMemory = { lastChangeAt: null, lowSince: null };

/** Why the count is what it is; a bounded set (a metric label). */
export const REASONS = [
  'below_min',
  'above_max',
  'backlog_high',
  'oldest_age_high',
  'backlog_low',
  'at_max',
  'at_min',
  'cooldown',
  'holding_low',
  'steady',
] as const;
export type Reason = (typeof REASONS)[number];

export interface Decision {
  readonly action: 'up' | 'down' | 'hold';
  readonly current: number;
  readonly desired: number;
  readonly reason: Reason;
  /** what to remember when the decision is applied (or, for a hold, right away) */
  readonly memory: ScalerMemory;
}

const since = (now: number, at: number | null) => (at === null ? Number.POSITIVE_INFINITY : (now - at) / 1000);

export function decide(rule: WorkerRule, seen: Observation, current: number, memory: ScalerMemory, now: number): Decision {
  const high = seen.backlog > rule.scaleUpBacklog;
  const old = rule.scaleUpOldestAgeSeconds !== undefined && seen.oldestAgeSeconds !== null && seen.oldestAgeSeconds > rule.scaleUpOldestAgeSeconds;
  const low = seen.backlog < rule.scaleDownBacklog && !old;
  const lowSince = low ? (memory.lowSince ?? now) : null;
  const hold = (reason: Reason): Decision => ({ action: 'hold', current, desired: current, reason, memory: { ...memory, lowSince } });
  const change = (desired: number, reason: Reason): Decision => ({
    action: desired > current ? 'up' : 'down',
    current,
    desired,
    reason,
    // a step down starts a new hold; any change restarts the cooldowns
    memory: { lastChangeAt: now, lowSince: low ? now : null },
  });

  if (current < rule.min) return change(rule.min, 'below_min');
  if (current > rule.max) return change(rule.max, 'above_max');
  if (high || old) {
    const reason: Reason = high ? 'backlog_high' : 'oldest_age_high';
    if (current >= rule.max) return hold('at_max');
    if (since(now, memory.lastChangeAt) < rule.scaleUpCooldownSeconds) return hold('cooldown');
    return change(Math.min(rule.max, current + rule.step), reason);
  }
  if (low) {
    if (current <= rule.min) return hold('at_min');
    if (since(now, lowSince) < rule.scaleDownHoldSeconds) return hold('holding_low');
    if (since(now, memory.lastChangeAt) < rule.scaleDownCooldownSeconds) return hold('cooldown');
    return change(Math.max(rule.min, current - rule.step), 'backlog_low');
  }
  return hold('steady');
}
