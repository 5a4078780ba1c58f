import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrate, migrationNames, migrationStatus } from '../src/migrate.js';
import { createTenant } from './fixtures.js';

/** Every table of domain.md §1 (canonical schema), §2 and §3 (bookkeeping), listed by hand. */
const CANONICAL_TABLES = [
  // tenancy
  'workspaces',
  'workspace_members',
  'user_profiles',
  'audit_logs',
  // sending
  'mailboxes',
  'campaign_mailboxes',
  'campaigns',
  'campaign_sequences',
  'campaign_leads',
  'campaign_emails',
  // leads
  'leads',
  'lead_scores',
  // events and inbox
  'email_events',
  'webhook_dedupe',
  'email_threads',
  'email_messages',
  // suppression and consent
  'suppression_list',
  'consent_records',
  // warm-up
  'warmup_pools',
  'warmup_accounts',
  'warmup_campaigns',
  'warmup_emails',
  'warmup_daily_stats',
  // enrichment
  'enrichment_providers',
  'enrichment_cache',
  'enrichment_credits',
  'enrichment_requests',
  'enriched_data',
  'enrichment_jobs',
  // AI
  'ai_usage_logs',
  'conversation_threads',
  'message_sentiments',
  'sentiment_alerts',
  'message_analysis',
  'reply_suggestions',
  'reply_templates',
  'conversation_context',
  'meeting_requests',
  'meeting_slots',
  'scheduled_meetings',
  'meeting_availability',
  // integrations
  'integration_connections',
  'integration_sync_state',
  'integration_object_map',
  'integration_outbox',
  'integration_sync_logs',
  'integration_field_mappings',
  'calendar_accounts',
  'calendar_sync_logs',
  'linkedin_integrations',
  // operations
  'job_failures',
  'export_jobs',
  'report_runs',
  'analytics_summary',
  'analytics_events',
  'data_subject_requests',
  'data_portability_exports',
  'data_retention_policies',
  'gdpr_audit_logs',
  'materialized_view_refresh_log',
  'partition_maintenance_log',
  'uploads',
] as const;

const MATERIALIZED_VIEWS = [
  'mv_campaign_analytics',
  'mv_campaign_daily',
  'mv_workspace_analytics',
  'mv_send_time_performance',
  'mv_lead_engagement',
  'mv_deliverability',
] as const;

/** Tables that are global by design (no workspace_id, or a nullable one for global rows). */
const GLOBAL_OR_NULLABLE = new Set([
  'workspaces',
  'user_profiles',
  'webhook_dedupe',
  'suppression_list',
  'warmup_pools',
  'enrichment_providers',
  'enrichment_cache',
  'job_failures',
  'materialized_view_refresh_log',
  'partition_maintenance_log',
]);

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

/** A snapshot of everything a migration could change, to prove a second run changes nothing. */
async function schemaFingerprint(c: pg.Client): Promise<string> {
  const { rows } = await c.query<{ f: string }>(`
    SELECT md5(string_agg(x, '|' ORDER BY x)) AS f FROM (
      SELECT 'c:' || table_name || '.' || column_name || ':' || data_type || ':' || is_nullable || ':' || coalesce(column_default, '') AS x
        FROM information_schema.columns WHERE table_schema = 'public'
      UNION ALL SELECT 'i:' || indexname || ':' || indexdef FROM pg_indexes WHERE schemaname = 'public'
      UNION ALL SELECT 'k:' || conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = 'public'::regnamespace
      UNION ALL SELECT 'p:' || proname || ':' || md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
      UNION ALL SELECT 'm:' || count(*)::text FROM pgmigrations
    ) s`);
  return rows[0]!.f;
}

describe('migrations', () => {
  it('create every table of the canonical schema', async () => {
    const { rows } = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    );
    const tables = new Set(rows.map((r) => r.relname));
    const missing = CANONICAL_TABLES.filter((t) => !tables.has(t));
    expect(missing).toEqual([]);
  });

  it('give every tenant table a NOT NULL workspace_id that cascades from workspaces', async () => {
    const { rows } = await client.query<{ table_name: string; is_nullable: string }>(
      `SELECT table_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND column_name = 'workspace_id' AND table_name = ANY($1)`,
      [[...CANONICAL_TABLES]],
    );
    const byTable = new Map(rows.map((r) => [r.table_name, r.is_nullable]));
    for (const table of CANONICAL_TABLES) {
      if (GLOBAL_OR_NULLABLE.has(table)) continue;
      expect(byTable.get(table), `${table}.workspace_id`).toBe('NO');
    }
  });

  it('create email_events partitioned by range on created_at', async () => {
    const { rows } = await client.query<{ def: string }>(`SELECT pg_get_partkeydef('public.email_events'::regclass) AS def`);
    expect(rows[0]!.def).toBe('RANGE (created_at)');
  });

  it('are a no-op the second time', async () => {
    const before = await schemaFingerprint(client);
    const applied = await migrate(db.url);
    expect(applied).toEqual([]);
    expect(await schemaFingerprint(client)).toBe(before);
    const status = await migrationStatus(db.url);
    expect(status.map((s) => s.name)).toEqual(migrationNames());
    expect(status.every((s) => s.appliedAt instanceof Date)).toBe(true);
  });

  it('create every materialized view with a plain-column unique index', async () => {
    const { rows } = await client.query<{ matviewname: string; indexdef: string }>(
      `SELECT i.tablename AS matviewname, i.indexdef
       FROM pg_indexes i JOIN pg_index x ON x.indexrelid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass
       WHERE i.schemaname = 'public' AND x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL`,
    );
    const withUnique = new Set(rows.map((r) => r.matviewname));
    for (const view of MATERIALIZED_VIEWS) expect(withUnique.has(view), view).toBe(true);
  });

  it('refresh every materialized view CONCURRENTLY (after the first populate)', async () => {
    for (const view of MATERIALIZED_VIEWS) {
      // created WITH NO DATA: the first refresh cannot be concurrent; the function handles that
      const first = await client.query<{ status: string; used_concurrently: boolean }>('SELECT * FROM refresh_analytics_view($1)', [view]);
      expect(first.rows[0]).toMatchObject({ status: 'success', used_concurrently: false });
      await client.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY public.${view}`);
      const second = await client.query<{ status: string; used_concurrently: boolean }>('SELECT * FROM refresh_analytics_view($1)', [view]);
      expect(second.rows[0]).toMatchObject({ status: 'success', used_concurrently: true });
    }
    const all = await client.query<{ view_name: string; used_concurrently: boolean }>('SELECT * FROM refresh_all_analytics_views()');
    expect(all.rows.map((r) => r.view_name).sort()).toEqual([...MATERIALIZED_VIEWS].sort());
    expect(all.rows.every((r) => r.used_concurrently)).toBe(true);
    const logged = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM materialized_view_refresh_log WHERE status = 'success'`);
    expect(logged.rows[0]!.n).toBe(MATERIALIZED_VIEWS.length * 3);
  });

  it('skip a refresh while another one of the same view is running', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query(`SELECT pg_advisory_lock(hashtext('coldcopy:refresh:mv_deliverability'))`);
      const skipped = await client.query<{ status: string }>(`SELECT * FROM refresh_analytics_view('mv_deliverability')`);
      expect(skipped.rows[0]!.status).toBe('skipped');
      const otherView = await client.query<{ status: string }>(`SELECT * FROM refresh_analytics_view('mv_lead_engagement')`);
      expect(otherView.rows[0]!.status).toBe('success');
    } finally {
      await other.end();
    }
  });

  it('score engagement without auto-replies: an out-of-office is not a reply', async () => {
    const t = await createTenant(client, 'engagement');
    const other = randomUUID();
    await client.query(`INSERT INTO leads (id, workspace_id, email) VALUES ($1, $2, 'other@example.com')`, [other, t.workspaceId]);
    const event = (lead: string, type: string, metadata: object = {}) =>
      client.query(`INSERT INTO email_events (workspace_id, lead_id, event_type, metadata) VALUES ($1, $2, $3, $4)`, [t.workspaceId, lead, type, metadata]);
    await event(t.leadId, 'opened');
    await event(t.leadId, 'replied', { auto_reply: true });
    await event(other, 'opened');
    await event(other, 'replied');
    await client.query(`SELECT * FROM refresh_analytics_view('mv_lead_engagement')`);
    const rows = await client.query<{ lead_id: string; replies: number; engagement_score: number; segment: string }>(
      'SELECT lead_id, replies, engagement_score, segment FROM mv_lead_engagement WHERE workspace_id = $1',
      [t.workspaceId],
    );
    const byLead = new Map(rows.rows.map((r) => [r.lead_id, r]));
    expect(byLead.get(t.leadId)).toMatchObject({ replies: 0, engagement_score: 10, segment: 'cold' });
    expect(byLead.get(other)).toMatchObject({ replies: 1, engagement_score: 40, segment: 'hot' });
  });

  it('refuse to refresh something that is not an analytics view', async () => {
    await expect(client.query(`SELECT * FROM refresh_analytics_view('workspaces')`)).rejects.toThrow(/unknown analytics view/);
  });
});
