import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  applyRetentionBatch,
  type ArchivedTable,
  countArchivable,
  countExpiredGdprExports,
  countRetentionTarget,
  countUnsubscribedLeads,
  cutoffDays,
  deleteArchivedRows,
  deleteGdprExports,
  effectiveRetentionDays,
  type EventRange,
  inBoundedTransaction,
  listWorkspaceRetention,
  lockArchivableBatch,
  lockExpiredGdprExports,
  maintainEmailEventsPartitions,
  partitionFloor,
  planEmailEventsPartitions,
  POLICY_RULES,
  type PolicyRule,
  purgeUnsubscribedLeadsBatch,
  recordRetentionRun,
  RETENTION_DEFAULT_DAYS,
  RETENTION_RULES,
  type RetentionAction,
  type RetentionRule,
  type RetentionTarget,
  type UnsubscribedCounts,
  targetTable,
  touchRetentionPolicy,
  type WorkspaceRetention,
} from '@coldcopy/db';
import type { Logger } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';

/**
 * The retention run behind cleanup-old-data (docs/schedules-and-retention.md). Rules run in the
 * order of RETENTION_RULES; a failing rule (or a failing workspace within a rule) is recorded in
 * `errors` and the run goes on with the next, so one bad workspace never stops the others.
 */

/** What a run without `only` covers: partitions and consent expiry have their own schedules. */
export const NIGHTLY_RULES: readonly RetentionRule[] = RETENTION_RULES.filter((r) => r !== 'email_event_partitions' && r !== 'consent_expiry');

export interface CleanupChange {
  readonly workspaceId: string | null;
  readonly rule: RetentionRule;
  readonly table: string;
  readonly action: RetentionAction;
  readonly rows: number;
}

export interface CleanupResult {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly rules: RetentionRule[];
  /** workspaces seen, and (workspace, rule) pairs decided by a workspace's own policy row or keep_all_data */
  readonly policies: { workspaces: number; custom: number };
  /** rows per table: deleted, and anonymised (cleared or replaced in place) */
  readonly deleted: Record<string, number>;
  readonly anonymized: Record<string, number>;
  /** every non-zero change, per workspace, rule, table and action */
  readonly changes: CleanupChange[];
  readonly createdPartitions: string[];
  readonly droppedPartitions: Array<{ name: string; rows: number }>;
  readonly errors: Array<{ rule: RetentionRule; workspaceId: string | null; error: string }>;
}

export interface CleanupOptions {
  readonly dryRun: boolean;
  readonly batchSize: number;
  readonly only?: readonly RetentionRule[];
}

interface RunContext {
  readonly deps: MaintenanceDeps;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

const ANONYMIZING: ReadonlySet<RetentionAction> = new Set(['anonymized', 'soft_deleted', 'expired']);

export async function runCleanup(options: CleanupOptions, rc: RunContext): Promise<CleanupResult> {
  const { deps, log, signal } = rc;
  const { pool, config, metrics } = deps;
  const now = deps.now();
  const wanted = new Set(options.only ?? NIGHTLY_RULES);
  const rules = RETENTION_RULES.filter((r) => wanted.has(r));
  const result: CleanupResult = {
    runId: randomUUID(),
    dryRun: options.dryRun,
    rules,
    policies: { workspaces: 0, custom: 0 },
    deleted: {},
    anonymized: {},
    changes: [],
    createdPartitions: [],
    droppedPartitions: [],
    errors: [],
  };
  const limits = { statementTimeoutMs: config.cleanup.statementTimeoutMs, lockTimeoutMs: config.cleanup.lockTimeoutMs };
  const floor = partitionFloor(now, config.partitions.retentionMonths);
  const workspaces = await listWorkspaceRetention(pool);
  result.policies.workspaces = workspaces.length;
  result.policies.custom = workspaces.reduce((n, ws) => n + POLICY_RULES.filter((r) => wanted.has(r) && (ws.keepAllData || ws.policies.has(r))).length, 0);

  const record = async (workspaceId: string | null, rule: RetentionRule, table: string, action: RetentionAction, rows: number, cutoff: Date | null) => {
    if (rows === 0) return;
    result.changes.push({ workspaceId, rule, table, action, rows });
    const bucket = ANONYMIZING.has(action) ? result.anonymized : action === 'created' || action === 'suppressed' ? undefined : result.deleted;
    if (bucket) bucket[table] = (bucket[table] ?? 0) + rows;
    if (options.dryRun) return;
    metrics.retentionRows(rule, table, action, rows);
    await recordRetentionRun(pool, { runId: result.runId, workspaceId, rule, table, action, affected: rows, cutoff, dryRun: false });
  };

  /** Runs `fn`, again after a pause when it hit the lock timeout (it never queues writers behind it). */
  const withLockRetry = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let miss = 1; ; miss++) {
      try {
        return await fn();
      } catch (err) {
        if ((err as { code?: string }).code !== '55P03' || miss > config.cleanup.lockRetries) throw err;
        await sleep(config.cleanup.batchPauseMs + 50 * miss, undefined, { signal });
      }
    }
  };

  /** Applies a target batch by batch until a batch changes nothing. */
  const drain = async (apply: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      signal.throwIfAborted();
      const n = await withLockRetry(apply);
      total += n;
      if (n === 0) return total;
      if (config.cleanup.batchPauseMs > 0) await sleep(config.cleanup.batchPauseMs, undefined, { signal });
    }
  };

  const runTarget = async (rule: RetentionRule, target: RetentionTarget, workspaceId: string | null, cutoff: Date) => {
    const selector = { target, workspaceId, cutoff, floor };
    const rows = options.dryRun
      ? await countRetentionTarget(pool, selector)
      : await drain(() => inBoundedTransaction(pool, limits, (c) => applyRetentionBatch(c, selector, options.batchSize)));
    const { table, action } = targetTable(target);
    await record(workspaceId, rule, table, action, rows, cutoff);
    return rows;
  };

  const eachWorkspace = async (rule: RetentionRule, fn: (ws: WorkspaceRetention) => Promise<number | undefined>) => {
    for (const ws of workspaces) {
      signal.throwIfAborted();
      try {
        const affected = await fn(ws);
        if (!options.dryRun && affected !== undefined) await touchRetentionPolicy(pool, ws.workspaceId, rule, affected, deps.now());
      } catch (err) {
        if (signal.aborted) throw err;
        fail(rule, ws.workspaceId, err);
      }
    }
  };

  const fail = (rule: RetentionRule, workspaceId: string | null, err: unknown) => {
    const error = err instanceof Error ? err.message : String(err);
    result.errors.push({ rule, workspaceId, error });
    metrics.cleanupError(rule);
    log.error('retention rule failed', { rule, workspaceId, error });
  };

  /** Days of a policy rule for a workspace, or null (rule off for it). */
  const days = (ws: WorkspaceRetention, rule: PolicyRule) => effectiveRetentionDays(ws, rule);

  const ruleRunners: Record<RetentionRule, () => Promise<void>> = {
    email_event_partitions: async () => {
      const { monthsAhead, retentionMonths } = config.partitions;
      if (options.dryRun) {
        const plan = await planEmailEventsPartitions(pool, now, monthsAhead, retentionMonths);
        result.createdPartitions.push(...plan.create);
        result.droppedPartitions.push(...plan.drop);
      } else {
        // the DDL needs a brief exclusive lock on email_events: bounded by the lock timeout, retried
        const done = await withLockRetry(() =>
          inBoundedTransaction(pool, limits, async (c) => {
            const plan = await planEmailEventsPartitions(c, now, monthsAhead, retentionMonths);
            const changes = await maintainEmailEventsPartitions(c, { monthsAhead, retentionMonths, now });
            return changes.map((d) => ({ ...d, rows: plan.drop.find((p) => p.name === d.partition_name)?.rows ?? 0 }));
          }),
        );
        for (const d of done) {
          if (d.action === 'created') result.createdPartitions.push(d.partition_name);
          else result.droppedPartitions.push({ name: d.partition_name, rows: d.rows });
        }
      }
      await record(null, 'email_event_partitions', 'email_events', 'created', result.createdPartitions.length, null);
      await record(
        null,
        'email_event_partitions',
        'email_events',
        'dropped',
        result.droppedPartitions.reduce((n, p) => n + p.rows, 0),
        floor,
      );
    },
    email_events: () =>
      eachWorkspace('email_events', async (ws) => {
        const d = days(ws, 'email_events');
        return d === null ? undefined : runTarget('email_events', 'email_events', ws.workspaceId, cutoffDays(now, d));
      }),
    campaign_email_content: () => policyTarget('campaign_email_content', 'campaign_email_content'),
    enriched_data: () => policyTarget('enriched_data', 'enriched_data'),
    enrichment_cache: async () => {
      await runTarget('enrichment_cache', 'enrichment_cache', null, now);
    },
    inactive_leads: () => policyTarget('inactive_leads', 'inactive_leads'),
    unsubscribed_leads: () =>
      eachWorkspace('unsubscribed_leads', async (ws) => {
        const cutoff = cutoffDays(now, RETENTION_DEFAULT_DAYS.unsubscribed_leads);
        let counts: UnsubscribedCounts;
        if (options.dryRun) {
          // events an earlier rule of this run deletes are not counted again
          const covered: EventRange[] = [];
          if (wanted.has('email_event_partitions')) covered.push({ from: null, to: floor });
          const eventsDays = wanted.has('email_events') ? days(ws, 'email_events') : null;
          if (eventsDays !== null) covered.push({ from: floor, to: cutoffDays(now, eventsDays) });
          counts = await countUnsubscribedLeads(pool, ws.workspaceId, cutoff, covered);
        } else {
          counts = { leads: 0, emailEvents: 0, suppressionsAdded: 0 };
          await drain(async () => {
            const batch = await inBoundedTransaction(pool, limits, (c) => purgeUnsubscribedLeadsBatch(c, ws.workspaceId, cutoff, options.batchSize));
            counts.leads += batch.leads;
            counts.emailEvents += batch.emailEvents;
            counts.suppressionsAdded += batch.suppressionsAdded;
            return batch.leads;
          });
        }
        await record(ws.workspaceId, 'unsubscribed_leads', 'suppression_list', 'suppressed', counts.suppressionsAdded, cutoff);
        await record(ws.workspaceId, 'unsubscribed_leads', 'email_events', 'deleted', counts.emailEvents, cutoff);
        await record(ws.workspaceId, 'unsubscribed_leads', 'leads', 'deleted', counts.leads, cutoff);
        return counts.leads;
      }),
    audit_logs: () => archiveRule('audit_logs'),
    gdpr_audit_logs: () => archiveRule('gdpr_audit_logs'),
    data_subject_requests: () =>
      eachWorkspace('data_subject_requests', (ws) =>
        runTarget('data_subject_requests', 'data_subject_requests', ws.workspaceId, cutoffDays(now, RETENTION_DEFAULT_DAYS.data_subject_requests)),
      ),
    gdpr_exports: () =>
      eachWorkspace('gdpr_exports', async (ws) => {
        const rows = options.dryRun
          ? await countExpiredGdprExports(pool, ws.workspaceId, now)
          : await drain(() =>
              inBoundedTransaction(pool, limits, async (c) => {
                const batch = await lockExpiredGdprExports(c, ws.workspaceId, now, options.batchSize);
                // the file first: a row without its file is harmless, a file without its row is a leak
                for (const e of batch) if (e.objectKey) await deps.exportStore.delete(e.objectKey);
                return deleteGdprExports(
                  c,
                  ws.workspaceId,
                  batch.map((e) => e.id),
                );
              }),
            );
        await record(ws.workspaceId, 'gdpr_exports', 'data_portability_exports', 'deleted', rows, now);
        return rows;
      }),
    analytics_events: () => policyTarget('analytics_events', 'analytics_events'),
    webhook_dedupe: async () => {
      await runTarget('webhook_dedupe', 'webhook_dedupe', null, cutoffDays(now, RETENTION_DEFAULT_DAYS.webhook_dedupe));
    },
    job_tables: () =>
      eachWorkspace('job_tables', async (ws) => {
        let n = 0;
        for (const target of ['enrichment_jobs', 'integration_outbox', 'integration_sync_logs', 'calendar_sync_logs'] as const) {
          n += await runTarget('job_tables', target, ws.workspaceId, cutoffDays(now, RETENTION_DEFAULT_DAYS[target]));
        }
        return n;
      }),
    materialized_view_refresh_log: async () => {
      await runTarget(
        'materialized_view_refresh_log',
        'materialized_view_refresh_log',
        null,
        cutoffDays(now, RETENTION_DEFAULT_DAYS.materialized_view_refresh_log),
      );
    },
    consent_expiry: () => eachWorkspace('consent_expiry', (ws) => runTarget('consent_expiry', 'consent_expiry', ws.workspaceId, now)),
  };

  async function policyTarget(rule: PolicyRule, target: RetentionTarget): Promise<void> {
    await eachWorkspace(rule, async (ws) => {
      const d = days(ws, rule);
      return d === null ? undefined : runTarget(rule, target, ws.workspaceId, cutoffDays(now, d));
    });
  }

  async function archiveRule(table: ArchivedTable): Promise<void> {
    const cutoff = cutoffDays(now, RETENTION_DEFAULT_DAYS[table]);
    await eachWorkspace(table, async (ws) => {
      const rows = options.dryRun
        ? await countArchivable(pool, table, ws.workspaceId, cutoff)
        : await drain(() =>
            inBoundedTransaction(pool, limits, async (c) => {
              const batch = await lockArchivableBatch(c, table, ws.workspaceId, cutoff, options.batchSize);
              if (batch.length === 0) return 0;
              // deterministic key: a batch retried after a crash overwrites its own archive
              const first = batch[0]!;
              const key = `archives/${table}/${ws.workspaceId}/${String(first.created_at).replace(/[^0-9TZ]/g, '')}-${first.id}.jsonl`;
              const body = batch.map((r) => JSON.stringify(r)).join('\n') + '\n';
              await deps.backupStore.put(key, Readable.from([Buffer.from(body)]), { contentType: 'application/x-ndjson', signal });
              return deleteArchivedRows(
                c,
                table,
                ws.workspaceId,
                batch.map((r) => r.id),
              );
            }),
          );
      await record(ws.workspaceId, table, table, 'archived', rows, cutoff);
      return rows;
    });
  }

  for (const rule of rules) {
    signal.throwIfAborted();
    try {
      await ruleRunners[rule]();
    } catch (err) {
      if (signal.aborted) throw err;
      fail(rule, null, err);
    }
  }
  log.info('cleanup finished', {
    runId: result.runId,
    dryRun: result.dryRun,
    deleted: result.deleted,
    anonymized: result.anonymized,
    droppedPartitions: result.droppedPartitions.map((p) => p.name),
    errors: result.errors.length,
  });
  return result;
}
