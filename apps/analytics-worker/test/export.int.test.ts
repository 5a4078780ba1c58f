import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { EXPORT_COLUMNS, listUserNotices, TenancyError } from '@coldcopy/db';
import { seedDemo } from '@coldcopy/db/seed';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportDataHandler, type ExportDataResult } from '../src/handlers/export-data.js';
import { createExportJob, emailEventsCsvChecksum, insertEvents } from './fixtures.js';
import { testContext, useAnalyticsHarness } from './harness.js';

const h = useAnalyticsHarness({ s3: true });
let A: string;
let B: string;

async function readObject(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await h.store.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

async function exportOf(
  workspaceId: string,
  type: 'leads' | 'campaigns' | 'email_events' | 'analytics' | 'gdpr',
  format: 'csv' | 'json' | 'xlsx',
  extra: Record<string, unknown> = {},
  config = {},
) {
  const exportJobId = await createExportJob(h.pool, workspaceId, type, format);
  const payload = { workspaceId, requestedBy: 'system', exportJobId, type, format, ...extra } as Parameters<typeof exportDataHandler>[0];
  const ctx = testContext(
    h.deps({ config: { exports: { maxBytes: 500 * 1024 * 1024, batchRows: 500, statementTimeoutMs: 60_000, xlsxMaxRowsPerSheet: 1_048_576, ...config } } }),
  );
  return { exportJobId, payload, ctx, run: () => exportDataHandler(payload, ctx) as Promise<ExportDataResult> };
}

beforeAll(async () => {
  const client = await h.pool.connect();
  A = (await seedDemo(client, { seed: 404, leads: 300 })).workspaceId;
  B = (await seedDemo(client, { seed: 505, leads: 200 })).workspaceId;
  client.release();
  await insertEvents(h.pool, A, 12_000);
});

describe('export-data', () => {
  it('CSV of email_events: the stored object matches a checksum computed by Postgres (COPY of the same rows)', async () => {
    const { run, exportJobId, ctx } = await exportOf(A, 'email_events', 'csv');
    const result = await run();
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1', [A]);
    expect(result.rowCount).toBe(rows[0].n);
    expect(result.objectKey).toMatch(new RegExp(`^workspaces/${A}/exports/\\d{8}T\\d{6}Z/[0-9a-f]{16}/email_events-export\\.csv$`));

    // Postgres renders the same columns as CSV (fixtures.ts)
    const fromDatabase = await emailEventsCsvChecksum(h.pool, A);
    const body = await readObject(result.objectKey);
    expect(createHash('sha256').update(body).digest('hex')).toBe(fromDatabase);
    expect(result.sha256).toBe(fromDatabase);
    expect(result.fileSize).toBe(body.length);

    const url = new URL(result.downloadUrl);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(body)).toBe(true);

    const { rows: job } = await h.pool.query('SELECT status, progress, row_count::int, file_size::int, object_key FROM export_jobs WHERE id = $1', [
      exportJobId,
    ]);
    expect(job[0]).toEqual({ status: 'completed', progress: 100, row_count: result.rowCount, file_size: body.length, object_key: result.objectKey });
    const { rows: audit } = await h.pool.query(`SELECT action, changes FROM audit_logs WHERE workspace_id = $1 AND resource_id = $2`, [A, exportJobId]);
    expect(audit).toEqual([{ action: 'export.completed', changes: expect.objectContaining({ rows: result.rowCount, sha256: fromDatabase }) }]);
    // the user notice (domain.md §5), written with the completion: no URL in it, the job named
    const notices = await listUserNotices(h.pool, A, exportJobId);
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({
      kind: 'export.ready',
      severity: 'success',
      user_id: null,
      resource_type: 'export_job',
      dedupe_key: `export:${exportJobId}:ready`,
    });
    expect(notices[0]!.body).toContain(`email events export (CSV, ${result.rowCount.toLocaleString('en')} rows,`);
    expect(notices[0]!.body).toContain(`Download it before ${result.expiresAt.slice(0, 16).replace('T', ' ')} UTC`);
    expect(JSON.stringify(notices[0])).not.toMatch(/https?:|X-Amz/);
    expect(ctx.progressed.length).toBeGreaterThanOrEqual(0);
  });

  it('JSON of email_events is one streamed array with every row; a second run of a completed export writes nothing', async () => {
    const { run, exportJobId } = await exportOf(A, 'email_events', 'json', { filters: { statuses: ['opened', 'clicked'] } });
    const result = await run();
    const parsed = JSON.parse((await readObject(result.objectKey)).toString('utf8')) as Array<Record<string, unknown>>;
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1 AND event_type IN ('opened', 'clicked')`, [A]);
    expect(parsed).toHaveLength(rows[0].n);
    expect(Object.keys(parsed[0]!)).toEqual(EXPORT_COLUMNS.email_events.map((c) => c.field));
    expect(new Set(parsed.map((p) => p.event_type))).toEqual(new Set(['opened', 'clicked']));
    const prefix = result.objectKey.slice(0, result.objectKey.lastIndexOf('/') + 1);

    const again = await run();
    expect(again.objectKey).toBe(result.objectKey);
    expect(await h.store.list(prefix)).toEqual([result.objectKey]);
    expect((await listUserNotices(h.pool, A, exportJobId)).map((n) => n.kind)).toEqual(['export.ready']);
  });

  it('filter values reach the COPY as literals: quotes, backslashes and SQL in them match nothing and run nothing', async () => {
    const count = async () => (await h.pool.query('SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1', [A])).rows[0].n as number;
    const before = await count();
    const statuses = ["opened'); DELETE FROM email_events; --", 'a"b\\c', "it's", 'x}', '{y'];
    for (const format of ['csv', 'json'] as const) {
      const result = await (await exportOf(A, 'email_events', format, { filters: { statuses } })).run();
      expect(result.rowCount).toBe(0);
      expect((await readObject(result.objectKey)).toString('utf8')).toBe(
        format === 'csv' ? `${EXPORT_COLUMNS.email_events.map((c) => c.header).join(',')}\r\n` : '[]\n',
      );
    }
    // and a value with the same characters that does match is found
    const quoted = await (await exportOf(A, 'email_events', 'csv', { filters: { statuses: ["it's", 'opened'] } })).run();
    expect(quoted.rowCount).toBeGreaterThan(0);
    expect(await count()).toBe(before);
  });

  it('XLSX starts a new sheet when one is full, each with its header', async () => {
    const { run } = await exportOf(A, 'email_events', 'xlsx', { fields: ['id', 'event_type', 'created_at'] }, { xlsxMaxRowsPerSheet: 5_001 });
    const result = await run();
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.read(Readable.from(await readObject(result.objectKey)));
    const counts = workbook.worksheets.map((s) => s.actualRowCount);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['email_events 1', 'email_events 2', 'email_events 3']);
    expect(counts.slice(0, 2)).toEqual([5_001, 5_001]);
    expect(counts.reduce((a, b) => a + b, 0) - counts.length).toBe(result.rowCount);
    expect(workbook.worksheets[1]!.getRow(1).values).toEqual([undefined, 'id', 'event_type', 'created_at']);
  });

  it('campaign CSV has the columns of domain.md §7 and only this workspace', async () => {
    const result = await (await exportOf(A, 'campaigns', 'csv')).run();
    const lines = (await readObject(result.objectKey)).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('Campaign Name,Type,Status,Total Sent,Opens,Open Rate,Clicks,Click Rate,Replies,Reply Rate,Created Date');
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM campaigns WHERE workspace_id = $1 AND deleted_at IS NULL', [A]);
    expect(lines.length - 1).toBe(rows[0].n);
  });

  it('leads by fields and filters; an unknown field fails at once without an object', async () => {
    const result = await (await exportOf(A, 'leads', 'csv', { fields: ['email', 'status'], filters: { statuses: ['new'] } })).run();
    const lines = (await readObject(result.objectKey)).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('email,status');
    expect(lines.slice(1).every((l) => l.endsWith(',new'))).toBe(true);
    const { rows } = await h.pool.query(`SELECT count(*)::int AS n FROM leads WHERE workspace_id = $1 AND status = 'new' AND deleted_at IS NULL`, [A]);
    expect(lines.length - 1).toBe(rows[0].n);

    const bad = await exportOf(A, 'leads', 'csv', { fields: ['email', 'password_hash'] });
    await expect(bad.run()).rejects.toMatchObject({ name: 'UnknownExportFieldError', permanent: true });
    const { rows: job } = await h.pool.query('SELECT status, error FROM export_jobs WHERE id = $1', [bad.exportJobId]);
    expect(job[0].status).toBe('failed');
  });

  it('GDPR JSON: one bundle per data subject, 7-day link, a GDPR audit row with the actor', async () => {
    const { rows: leads } = await h.pool.query('SELECT id FROM leads WHERE workspace_id = $1 ORDER BY id LIMIT 2', [A]);
    const leadIds = leads.map((l) => l.id as string);
    const actor = '7d3c4c1e-6a7f-4bd8-9e59-2b0c8f0e6f11';
    const { run, exportJobId } = await exportOf(A, 'gdpr', 'json', { filters: { leadIds }, requestedBy: actor });
    const result = await run();
    const bundles = JSON.parse((await readObject(result.objectKey)).toString('utf8')) as Array<Record<string, any>>;
    expect(bundles.map((b) => b.lead.id)).toEqual([...leadIds].sort());
    expect(Object.keys(bundles[0]!).sort()).toEqual([
      'campaign_history',
      'consent_records',
      'email_events',
      'enriched_data',
      'exported_at',
      'format_version',
      'lead',
    ]);
    expect(bundles[0]!.format_version).toBe('1.0');
    expect(new URL(result.downloadUrl).searchParams.get('X-Amz-Expires')).toBe('604800');
    const { rows: audit } = await h.pool.query('SELECT actor_user_id, actor_type, lead_id FROM gdpr_audit_logs WHERE resource_id = $1 ORDER BY lead_id', [
      exportJobId,
    ]);
    expect(audit).toEqual([...leadIds].sort().map((lead_id) => ({ actor_user_id: actor, actor_type: 'user', lead_id })));
    const [notice] = await listUserNotices(h.pool, A, exportJobId);
    expect(notice).toMatchObject({ kind: 'export.ready', user_id: actor });
    expect(notice!.body).toMatch(/personal data \(GDPR\) export \(JSON, 2 rows, .*\(7 days\)/);

    const csv = await (await exportOf(A, 'gdpr', 'csv', { filters: { leadIds } })).run();
    const lines = (await readObject(csv.objectKey)).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('section,lead_id,record_id,created_at,data');
    expect(lines.filter((l) => l.startsWith('lead,'))).toHaveLength(2);
  });

  it("refuses another workspace's export job, and the 500 MB cap (here 20 kB) aborts the upload", async () => {
    const foreign = await createExportJob(h.pool, B, 'leads', 'csv');
    await expect(
      exportDataHandler({ workspaceId: A, requestedBy: 'system', exportJobId: foreign, type: 'leads', format: 'csv' }, testContext(h.deps())),
    ).rejects.toBeInstanceOf(TenancyError);

    const capped = await exportOf(A, 'email_events', 'csv', {}, { maxBytes: 20_000 });
    await expect(capped.run()).rejects.toMatchObject({ name: 'ExportTooLargeError', permanent: true });
    const { rows } = await h.pool.query('SELECT status, error, object_key FROM export_jobs WHERE id = $1', [capped.exportJobId]);
    expect(rows[0].status).toBe('failed');
    expect(rows[0].error).toMatch(/limit/);
    expect(await h.store.head(rows[0].object_key)).toBeNull();
    const notices = await listUserNotices(h.pool, A, capped.exportJobId);
    expect(notices).toMatchObject([{ kind: 'export.failed', severity: 'error', dedupe_key: `export:${capped.exportJobId}:failed` }]);
    expect(notices[0]!.body).toBe('Your email events export (CSV) could not be created. export exceeds the 20 kB limit: narrow the filters or the fields.');
    // nothing about another workspace's job reaches this workspace
    expect(await listUserNotices(h.pool, A, foreign)).toEqual([]);
    expect(await listUserNotices(h.pool, B, foreign)).toEqual([]);
  });
});
