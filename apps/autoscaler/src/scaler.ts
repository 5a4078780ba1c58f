import type { Logger } from '@coldcopy/queue-core/runtime';
import type { QueueName } from '@coldcopy/queue-core';
import type { BacklogReader } from './backlog.js';
import type { ScalingConfig } from './config.js';
import { type App, DoApiError, type DoAppsClient, instanceCount, ScaleRefused } from './do-apps.js';
import type { LeaderLock } from './leader-lock.js';
import type { ScalerMetrics } from './metrics.js';
import { decide, type Decision, EMPTY_MEMORY, type ScalerMemory } from './policy.js';

export interface ComponentDecision extends Decision {
  readonly component: string;
  readonly queue: QueueName;
  readonly backlog: number;
  readonly oldestAgeSeconds: number | null;
}

export interface TickReport {
  /** false: another scaler holds the lease; this one did nothing */
  readonly leader: boolean;
  readonly decisions: readonly ComponentDecision[];
  /** the changes reached the app spec (false for a dry run, a hold, a refusal or a failure) */
  readonly applied: boolean;
  /** why changes were not applied */
  readonly notApplied?: string;
}

export interface ScalerOptions {
  readonly config: ScalingConfig;
  readonly appId: string;
  readonly api: DoAppsClient;
  readonly backlog: BacklogReader;
  /** the lease and the memory; a dry run only reads the memory */
  readonly lock: LeaderLock;
  readonly dryRun?: boolean;
  readonly now?: () => number;
  readonly logger: Logger;
  readonly metrics: ScalerMetrics;
}

/**
 * One pass: take (or renew) the lease, read every queue's backlog through the admin view and the
 * app spec, decide per worker component (policy.ts), claim the changes under the fencing token and
 * apply them in one spec update. Nothing is sent while a deployment is in progress; a failed update
 * leaves the spec as it was (the API applies a whole spec or nothing, and a retry starts from a
 * fresh read) and the memory as it was, so the next tick decides again.
 */
export class Scaler {
  private readonly now: () => number;

  constructor(private readonly o: ScalerOptions) {
    this.now = o.now ?? Date.now;
  }

  async tick(): Promise<TickReport> {
    const { o } = this;
    const dryRun = o.dryRun ?? false;
    const lease = dryRun ? undefined : await o.lock.acquire();
    o.metrics.leader.set(lease ? 1 : 0);
    if (!dryRun && !lease) return { leader: false, decisions: [], applied: false, notApplied: 'not the leader' };
    const now = this.now();
    const [seen, app, memory] = await Promise.all([o.backlog.read(), o.api.getApp(o.appId), o.lock.memory()]);

    const decisions: ComponentDecision[] = [];
    for (const [component, rule] of Object.entries(o.config.workers)) {
      const current = instanceCount(app, component);
      if (current === undefined) {
        o.logger.error('autoscaler: the app spec has no such worker component; check the scaling config', { component });
        continue;
      }
      const observed = seen.get(rule.queue) ?? { backlog: 0, oldestAgeSeconds: null };
      o.metrics.backlog.set({ queue: rule.queue }, observed.backlog);
      o.metrics.oldestAge.set({ queue: rule.queue }, observed.oldestAgeSeconds ?? 0);
      o.metrics.current.set({ component }, current);
      const d = decide(rule, observed, current, memory.get(component) ?? EMPTY_MEMORY, now);
      decisions.push({ ...d, component, queue: rule.queue, backlog: observed.backlog, oldestAgeSeconds: observed.oldestAgeSeconds });
    }
    const changes = decisions.filter((d) => d.action !== 'hold');
    const finish = (applied: boolean, notApplied?: string): TickReport => {
      for (const d of decisions) {
        const done = d.action === 'hold' || applied;
        o.metrics.decisions.inc({ component: d.component, action: d.action, reason: d.reason, applied: String(done && d.action !== 'hold') });
        o.metrics.desired.set({ component: d.component }, d.desired);
        o.logger.info('autoscaler decision', {
          component: d.component,
          queue: d.queue,
          action: d.action,
          reason: d.reason,
          current: d.current,
          desired: d.desired,
          backlog: d.backlog,
          oldestAgeSeconds: d.oldestAgeSeconds,
          applied: done && d.action !== 'hold',
          ...(dryRun ? { dryRun } : {}),
          ...(notApplied && d.action !== 'hold' ? { notApplied } : {}),
        });
      }
      o.metrics.lastTick.set(this.now() / 1000);
      return { leader: !dryRun, decisions, applied, ...(notApplied ? { notApplied } : {}) };
    };
    if (dryRun) return finish(false, changes.length ? 'dry run' : undefined);

    // holds: remember the low-backlog clock; changes keep their old memory until claimed
    const keep = (d: ComponentDecision): ScalerMemory => ({ ...(memory.get(d.component) ?? EMPTY_MEMORY), lowSince: d.memory.lowSince });
    const holds = new Map(decisions.map((d) => [d.component, d.action === 'hold' ? d.memory : keep(d)]));
    if (!(await o.lock.write(lease!, holds))) return this.refuse(finish, 'lease_lost');
    if (changes.length === 0) return finish(false);
    const running = inProgress(app);
    if (running) return this.refuse(finish, 'deployment_in_progress');

    // the claim: only a leader whose token is still current gets to send the update
    if (!(await o.lock.write(lease!, new Map(changes.map((d) => [d.component, d.memory]))))) return this.refuse(finish, 'lease_lost');
    try {
      const result = await o.api.setInstanceCounts(o.appId, new Map(changes.map((d) => [d.component, d.desired])));
      o.logger.info('autoscaler: app spec updated', { appId: o.appId, puts: result.puts, updated: result.updated, deploymentId: result.deploymentId });
      return finish(true);
    } catch (err) {
      // Did it go through? An update sent whose answer was lost may have been applied: ask once
      // more. Applied: the claim stands. Not applied: forget the claim, so the next pass decides
      // afresh. Unknown (the API does not answer): keep the claim, at worst one cooldown of delay.
      const outcome = err instanceof ScaleRefused ? 'not_applied' : await this.outcome(changes);
      if (outcome === 'applied') {
        o.logger.warn('autoscaler: the update failed to answer but is in the app spec', { appId: o.appId, error: (err as Error).message });
        return finish(true);
      }
      if (outcome === 'not_applied') await o.lock.write(lease!, new Map(changes.map((d) => [d.component, keep(d)]))).catch(() => false);
      const reason = err instanceof ScaleRefused ? err.reason : err instanceof DoApiError ? 'api_error' : 'network_error';
      o.logger.error('autoscaler: update not applied', { appId: o.appId, reason, error: (err as Error).message });
      return this.refuse(finish, reason);
    }
  }

  private async outcome(changes: readonly ComponentDecision[]): Promise<'applied' | 'not_applied' | 'unknown'> {
    try {
      const app = await this.o.api.getApp(this.o.appId);
      return changes.every((d) => instanceCount(app, d.component) === d.desired) ? 'applied' : 'not_applied';
    } catch {
      return 'unknown';
    }
  }

  private refuse(finish: (applied: boolean, notApplied?: string) => TickReport, reason: string): TickReport {
    this.o.metrics.applyFailures.inc({ reason });
    return finish(false, reason);
  }
}

function inProgress(app: App) {
  return app.in_progress_deployment ?? app.pending_deployment;
}
