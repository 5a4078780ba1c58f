import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type CleanupOutcome, cleanupOldDataHandler } from '../src/handlers/cleanup-old-data.js';
import type { CleanupResult } from '../src/domain/cleanup.js';
import { testContext, useMaintenanceHarness } from './harness.js';

const h = useMaintenanceHarness();
const DAY = 86_400_000;
const now = new Date();
const ago = (days: number) => new Date(now.getTime() - days * DAY);

type Payload = Parameters<typeof cleanupOldDataHandler>[0];
const run = async (payload: Partial<Payload> = {}, deps = h.deps({ now: () => now })) =>
  (await cleanupOldDataHandler({ dryRun: false, batchSize: 2, requestedBy: 'system', ...payload }, testContext(deps))) as CleanupResult;

const q = (sql: string, params: unknown[] = []) => h.pool.query(sql, params);

/** Seeds one workspace with rows on both sides of every retention cutoff; returns its ids. */
async function seedWorkspace(label: string, settings: Record<string, unknown>, policies: Array<[string, number, boolean]>) {
  const ws = randomUUID();
  await q(`INSERT INTO workspaces (id, name, slug, status, settings) VALUES ($1, $2, $3, 'active', $4)`, [ws, label, `${label}-${ws.slice(0, 8)}`, settings]);
  for (const [type, days, active] of policies) {
    await q(`INSERT INTO data_retention_policies (workspace_id, data_type, retention_days, is_active) VALUES ($1, $2, $3, $4)`, [ws, type, days, active]);
  }
  const campaign = randomUUID();
  await q(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, 'C', 'active')`, [campaign, ws]);
  const lead = async (email: string, status: string, created: Date, activity: Date | null, updated = created) => {
    const id = randomUUID();
    await q(
      `INSERT INTO leads (id, workspace_id, email, first_name, last_name, phone, status, created_at, updated_at, last_activity_at, custom_fields)
       VALUES ($1, $2, $3, 'Ada', 'Lovelace', '+100', $4, $5, $6, $7, '{"a":1}')`,
      [id, ws, `${email}@${label}.example`, status, created, updated, activity],
    );
    return id;
  };
  const active = await lead('active', 'contacted', ago(10), ago(2));
  await lead('inactive-500', 'contacted', ago(1200), ago(500));
  await lead('dormant', 'new', ago(1500), ago(1200));
  const unsubscribed = await lead('unsub', 'unsubscribed', ago(400), ago(200), ago(200));
  await q(`INSERT INTO suppression_list (workspace_id, email, suppression_type, source, created_at) VALUES ($1, $2, 'unsubscribe', 'link', $3)`, [
    ws,
    `unsub@${label}.example`,
    ago(200),
  ]);
  await q(`INSERT INTO campaign_leads (workspace_id, campaign_id, lead_id, status, unsubscribed_at) VALUES ($1, $2, $3, 'unsubscribed', $4)`, [
    ws,
    campaign,
    unsubscribed,
    ago(200),
  ]);
  // unsubscribed long ago but without a suppression row: the purge adds one before deleting
  await lead('unsub-unsuppressed', 'unsubscribed', ago(400), ago(300), ago(250));
  await lead('unsub-recent', 'unsubscribed', ago(100), ago(10), ago(10));
  await q(`INSERT INTO suppression_list (workspace_id, email, suppression_type, source) VALUES ($1, $2, 'bounce', 'webhook')`, [
    ws,
    `bounced@${label}.example`,
  ]);

  for (const days of [10, 45, 200, 380, 500]) {
    await q(`INSERT INTO email_events (workspace_id, campaign_id, lead_id, event_type, created_at) VALUES ($1, $2, $3, 'sent', $4)`, [
      ws,
      campaign,
      active,
      ago(days),
    ]);
  }
  await q(`INSERT INTO email_events (workspace_id, campaign_id, lead_id, event_type, created_at) VALUES ($1, $2, $3, 'unsubscribed', $4)`, [
    ws,
    campaign,
    unsubscribed,
    ago(5),
  ]);

  for (const [step, days, status] of [
    [1, 800, 'sent'],
    [2, 200, 'sent'],
    [3, 900, 'scheduled'],
  ] as const) {
    await q(
      `INSERT INTO campaign_emails (workspace_id, campaign_id, lead_id, step_number, status, scheduled_at, sent_at, subject, content_html, content_text)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'Hello', '<p>hi</p>', 'hi')`,
      [ws, campaign, active, step, status, ago(days), status === 'sent' ? ago(days) : null],
    );
  }
  for (const days of [400, 10]) {
    await q(`INSERT INTO enriched_data (workspace_id, lead_id, data_type, data, created_at) VALUES ($1, $2, 'person', '{}', $3)`, [ws, active, ago(days)]);
  }
  for (const days of [2600, 100]) {
    await q(`INSERT INTO audit_logs (workspace_id, action, resource_type, created_at) VALUES ($1, 'lead.update', 'lead', $2)`, [ws, ago(days)]);
  }
  await q(`INSERT INTO gdpr_audit_logs (workspace_id, action, resource_type, created_at) VALUES ($1, 'export', 'lead', $2)`, [ws, ago(2600)]);
  for (const [status, days] of [
    ['completed', 100],
    ['completed', 10],
    ['pending', 200],
  ] as const) {
    await q(
      `INSERT INTO data_subject_requests (workspace_id, request_type, status, email, completed_at, created_at) VALUES ($1, 'access', $2, 'x@y.example', $3, $4)`,
      [ws, status, status === 'completed' ? ago(days) : null, ago(days)],
    );
  }
  for (const [key, expires, downloads] of [
    [`gdpr/${ws}/old.json`, ago(1), 0],
    [`gdpr/${ws}/used.json`, ago(-5), 3],
    [`gdpr/${ws}/fresh.json`, ago(-5), 0],
  ] as const) {
    await q(`INSERT INTO data_portability_exports (workspace_id, object_key, expires_at, download_count) VALUES ($1, $2, $3, $4)`, [
      ws,
      key,
      expires,
      downloads,
    ]);
  }
  for (const days of [100, 10]) {
    await q(`INSERT INTO analytics_events (workspace_id, event_type, created_at) VALUES ($1, 'page_view', $2)`, [ws, ago(days)]);
  }
  await q(`INSERT INTO enrichment_jobs (workspace_id, status, completed_at) VALUES ($1, 'completed', $2), ($1, 'completed', $3)`, [ws, ago(40), ago(5)]);
  await q(
    `INSERT INTO integration_outbox (workspace_id, provider, object_type, operation, local_id, status, processed_at) VALUES ($1, 'hubspot', 'contact', 'upsert', $2, 'done', $3), ($1, 'hubspot', 'contact', 'upsert', $2, 'done', $4)`,
    [ws, active, ago(10), ago(2)],
  );
  await q(
    `INSERT INTO integration_sync_logs (workspace_id, provider, sync_type, status, created_at) VALUES ($1, 'hubspot', 'full', 'completed', $2), ($1, 'hubspot', 'full', 'completed', $3)`,
    [ws, ago(40), ago(5)],
  );
  await q(
    `INSERT INTO consent_records (workspace_id, lead_id, consent_type, status, expires_at) VALUES ($1, $2, 'marketing', 'granted', $3), ($1, $2, 'tracking', 'granted', $4)`,
    [ws, active, ago(1), ago(-30)],
  );
  return { ws };
}

/** Row counts of every table a rule touches, per workspace, plus the whole suppression list. */
async function snapshot(workspaces: string[]) {
  const tables = [
    'email_events',
    'leads',
    'campaign_emails',
    'enriched_data',
    'audit_logs',
    'gdpr_audit_logs',
    'data_subject_requests',
    'data_portability_exports',
    'analytics_events',
    'enrichment_jobs',
    'integration_outbox',
    'integration_sync_logs',
  ];
  const out: Record<string, Record<string, number>> = {};
  for (const ws of workspaces) {
    out[ws] = {};
    for (const t of tables) out[ws][t] = Number((await q(`SELECT count(*) FROM ${t} WHERE workspace_id = $1`, [ws])).rows[0].count);
    out[ws].anonymizedContent = Number(
      (await q(`SELECT count(*) FROM campaign_emails WHERE workspace_id = $1 AND content_anonymized_at IS NOT NULL AND subject IS NULL`, [ws])).rows[0].count,
    );
    out[ws].anonymizedLeads = Number(
      (
        await q(
          `SELECT count(*) FROM leads WHERE workspace_id = $1 AND anonymized_at IS NOT NULL AND email LIKE 'anonymized-%@example.invalid' AND first_name = 'ANONYMIZED' AND phone IS NULL`,
          [ws],
        )
      ).rows[0].count,
    );
    out[ws].softDeleted = Number((await q(`SELECT count(*) FROM enriched_data WHERE workspace_id = $1 AND deleted_at IS NOT NULL`, [ws])).rows[0].count);
    out[ws].expiredConsent = Number((await q(`SELECT count(*) FROM consent_records WHERE workspace_id = $1 AND status = 'expired'`, [ws])).rows[0].count);
  }
  const suppression = (await q(`SELECT id, email FROM suppression_list ORDER BY id`)).rows as Array<{ id: string; email: string }>;
  const globals = {
    enrichment_cache: Number((await q(`SELECT count(*) FROM enrichment_cache`)).rows[0].count),
    webhook_dedupe: Number((await q(`SELECT count(*) FROM webhook_dedupe`)).rows[0].count),
    materialized_view_refresh_log: Number((await q(`SELECT count(*) FROM materialized_view_refresh_log`)).rows[0].count),
  };
  return { perWorkspace: out, suppression, globals };
}

/** changes of a run as { ws: { 'table action': rows } } (globals under 'global') */
function changesByWorkspace(result: CleanupResult) {
  const out: Record<string, Record<string, number>> = {};
  for (const c of result.changes) {
    const key = c.workspaceId ?? 'global';
    out[key] ??= {};
    out[key][`${c.table} ${c.action}`] = (out[key][`${c.table} ${c.action}`] ?? 0) + c.rows;
  }
  return out;
}

describe('cleanup-old-data', () => {
  it('applies every rule per workspace policy: exact counts, suppression kept, idempotent, dry run equal and inert', async () => {
    // months back to 20 so that old events have partitions (the migration creates only the previous month)
    for (let m = 1; m <= 20; m++) {
      await q(`SELECT create_email_events_partition((date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => $1))::date)`, [m]);
    }
    // A: no settings at all (ColdCopy skipped such workspaces); B: own policies; C: keep_all_data
    const a = await seedWorkspace('alpha', { email: {} }, []);
    const b = await seedWorkspace('bravo', { keep_all_data: false }, [
      ['email_events', 30, true],
      ['campaign_email_content', 100, true],
      ['inactive_leads', 400, true],
      ['analytics_events', 30, false],
    ]);
    const c = await seedWorkspace('charlie', { keep_all_data: true }, [['email_events', 60, true]]);
    await q(`INSERT INTO enrichment_cache (cache_key, query_type, cached_data, expires_at) VALUES ('k1', 'person', '{}', $1), ('k2', 'person', '{}', $2)`, [
      ago(1),
      ago(-1),
    ]);
    await q(`INSERT INTO webhook_dedupe (provider, provider_event_id, workspace_id, received_at) VALUES ('ses', 'old', $1, $2), ('ses', 'new', $1, $3)`, [
      a.ws,
      ago(40),
      ago(2),
    ]);
    await q(
      `INSERT INTO materialized_view_refresh_log (view_name, used_concurrently, status, started_at, finished_at) VALUES ('v', true, 'success', $1, $1), ('v', true, 'success', $2, $2)`,
      [ago(400), ago(3)],
    );
    const h2 = h.deps({ now: () => now });
    for (const ws of [a.ws, b.ws, c.ws]) {
      for (const name of ['old', 'used', 'fresh'])
        await h2.exportStore.put(`gdpr/${ws}/${name}.json`, Readable.from([Buffer.from('{}')]), { contentType: 'application/json' });
    }

    const workspaces = [a.ws, b.ws, c.ws];
    const before = await snapshot(workspaces);

    // dry run: counts, no change
    const dry = await run({ dryRun: true }, h2);
    expect(await snapshot(workspaces)).toEqual(before);
    expect(dry.errors).toEqual([]);

    const applied = await run({}, h2);
    expect(applied.errors).toEqual([]);
    const after = await snapshot(workspaces);

    // the per-workspace, per-table expectations (defaults: events 365, content 730, enriched 365,
    // inactive 1095, unsubscribed 180, audit 2555, dsr 90, analytics 90, jobs 30, outbox 7)
    const common = {
      'suppression_list suppressed': 1,
      'leads deleted': 2,
      'audit_logs archived': 1,
      'gdpr_audit_logs archived': 1,
      'data_subject_requests deleted': 1,
      'data_portability_exports deleted': 2,
      'enrichment_jobs deleted': 1,
      'integration_outbox deleted': 1,
      'integration_sync_logs deleted': 1,
    };
    expect(changesByWorkspace(applied)).toEqual({
      // events: 380 d (365 policy; the 500 d row is below the partition floor, dropped with its month) + the unsubscribed lead's
      [a.ws]: {
        ...common,
        'email_events deleted': 1 + 1,
        'campaign_emails anonymized': 1,
        'enriched_data soft_deleted': 1,
        'leads anonymized': 1,
        'analytics_events deleted': 1,
      },
      [b.ws]: { ...common, 'email_events deleted': 3 + 1, 'campaign_emails anonymized': 2, 'enriched_data soft_deleted': 1, 'leads anonymized': 2 },
      // keep_all_data: only what is owed to people (unsubscribed purge) and the fixed rules
      [c.ws]: { ...common, 'email_events deleted': 1 },
      global: { 'enrichment_cache deleted': 1, 'webhook_dedupe deleted': 1, 'materialized_view_refresh_log deleted': 1 },
    });
    // the dry run reported exactly the same
    expect(changesByWorkspace(dry)).toEqual(changesByWorkspace(applied));
    expect(dry.deleted).toEqual(applied.deleted);
    expect(dry.anonymized).toEqual(applied.anonymized);

    // and the tables agree with the report
    const delta = (ws: string, t: string) => before.perWorkspace[ws]![t]! - after.perWorkspace[ws]![t]!;
    expect([a.ws, b.ws, c.ws].map((ws) => delta(ws, 'email_events'))).toEqual([2, 4, 1]);
    expect([a.ws, b.ws, c.ws].map((ws) => delta(ws, 'leads'))).toEqual([2, 2, 2]);
    expect([a.ws, b.ws, c.ws].map((ws) => after.perWorkspace[ws]!.anonymizedLeads)).toEqual([1, 2, 0]);
    expect([a.ws, b.ws, c.ws].map((ws) => after.perWorkspace[ws]!.anonymizedContent)).toEqual([1, 2, 0]);
    expect([a.ws, b.ws, c.ws].map((ws) => after.perWorkspace[ws]!.softDeleted)).toEqual([1, 1, 0]);
    expect([a.ws, b.ws, c.ws].map((ws) => delta(ws, 'analytics_events'))).toEqual([1, 0, 0]);
    expect([a.ws, b.ws, c.ws].map((ws) => after.perWorkspace[ws]!.expiredConsent)).toEqual([0, 0, 0]);
    expect(before.globals.enrichment_cache - after.globals.enrichment_cache).toBe(1);

    // every suppression row survives; one added per workspace for the lead that had none
    const kept = new Set(after.suppression.map((s) => s.id));
    expect(before.suppression.every((s) => kept.has(s.id))).toBe(true);
    expect(after.suppression.length).toBe(before.suppression.length + 3);
    for (const label of ['alpha', 'bravo', 'charlie']) expect(after.suppression.map((s) => s.email)).toContain(`unsub-unsuppressed@${label}.example`);

    // archives stored before deletion; expired export files removed, the fresh one kept
    expect([...h2.backupStore.objects.keys()].filter((k) => k.startsWith('archives/audit_logs/')).length).toBe(3);
    expect([...h2.exportStore.objects.keys()].sort()).toEqual(workspaces.map((ws) => `gdpr/${ws}/fresh.json`).sort());

    // policy timestamps on the workspace's own rows; audit rows for what changed
    const policies = (
      await q(`SELECT data_type, last_run_at, last_affected_rows FROM data_retention_policies WHERE workspace_id = $1 ORDER BY data_type`, [b.ws])
    ).rows;
    expect(policies.map((p) => [p.data_type, Number(p.last_affected_rows), p.last_run_at !== null])).toEqual([
      ['analytics_events', 0, false], // inactive policy: the rule did not run for bravo
      ['campaign_email_content', 2, true],
      ['email_events', 3, true],
      ['inactive_leads', 2, true],
    ]);
    const audit = (
      await q(
        `SELECT action, resource_type, details->>'rows' AS rows FROM gdpr_audit_logs WHERE workspace_id = $1 AND action LIKE 'retention.%' ORDER BY resource_type, action`,
        [a.ws],
      )
    ).rows;
    expect(audit).toContainEqual({ action: 'retention.deleted', resource_type: 'leads', rows: '2' });
    expect(audit).toContainEqual({ action: 'retention.anonymized', resource_type: 'campaign_emails', rows: '1' });
    const runs = Number((await q(`SELECT count(*) FROM retention_runs WHERE run_id = $1`, [applied.runId])).rows[0].count);
    expect(runs).toBe(applied.changes.length);

    // a second run changes nothing
    const again = await run({}, h2);
    expect(again.changes).toEqual([]);
    expect(again.errors).toEqual([]);
    const third = await snapshot(workspaces);
    expect(third.perWorkspace).toEqual(after.perWorkspace);
    expect(third.suppression).toEqual(after.suppression);

    // consent expiry on its own schedule
    const consent = await run({ only: ['consent_expiry'] }, h2);
    expect(changesByWorkspace(consent)).toEqual({
      [a.ws]: { 'consent_records expired': 1 },
      [b.ws]: { 'consent_records expired': 1 },
      [c.ws]: { 'consent_records expired': 1 },
    });
    expect((await run({ only: ['consent_expiry'] }, h2)).changes).toEqual([]);

    // partition maintenance: the dry run names what the real run drops (the 500-day rows' month and older)
    const plan = await run({ only: ['email_event_partitions'], dryRun: true }, h2);
    const partitions = await run({ only: ['email_event_partitions'] }, h2);
    expect(partitions.errors).toEqual([]);
    expect(partitions.droppedPartitions).toEqual(plan.droppedPartitions);
    expect(partitions.createdPartitions).toEqual(plan.createdPartitions);
    expect(partitions.droppedPartitions.reduce((n, p) => n + p.rows, 0)).toBe(3);
    expect(partitions.droppedPartitions.length).toBeGreaterThanOrEqual(3);
    const remaining = Number((await q(`SELECT count(*) FROM email_events WHERE created_at < $1`, [ago(400)])).rows[0].count);
    expect(remaining).toBe(0);
    expect((await run({ only: ['email_event_partitions'] }, h2)).droppedPartitions).toEqual([]);
  });

  it('refuses to drop partitions while a workspace keeps email_events longer than the floor, and reports it as an error', async () => {
    const ws = randomUUID();
    await q(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'long', $2)`, [ws, `long-${ws.slice(0, 8)}`]);
    await q(`INSERT INTO data_retention_policies (workspace_id, data_type, retention_days) VALUES ($1, 'email_events', 900)`, [ws]);
    try {
      await expect(run({ only: ['email_event_partitions'] })).rejects.toThrow(
        /email_event_partitions: partition retention of 13 months is shorter than the longest workspace email_events policy \(900 days\)/,
      );
    } finally {
      await q(`DELETE FROM workspaces WHERE id = $1`, [ws]);
    }
  });

  it('one runner at a time: a second run finds the lock held and is skipped', async () => {
    const holder = await h.pool.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('coldcopy:maintenance:cleanup:apply'))`);
    try {
      const outcome = (await cleanupOldDataHandler({ dryRun: false, batchSize: 10, requestedBy: 'system' }, testContext(h.deps()))) as CleanupOutcome;
      expect(outcome).toEqual({ skipped: 'another cleanup-old-data run is in progress' });
    } finally {
      await holder.query(`SELECT pg_advisory_unlock(hashtext('coldcopy:maintenance:cleanup:apply'))`);
      holder.release();
    }
  });
});
