/**
 * Export benchmark (issue 15's acceptance): 1,000,000 email_events rows as CSV and JSON, then
 * 1,200,000 as XLSX, each export in its own process against a private Postgres and a local S3
 * server (s3rver). Reports rows/s, peak RSS and the machine's load; checks the CSV object against
 * a SHA-256 computed by Postgres (COPY of the same rows) and counts the XLSX sheets.
 *
 *   pnpm --filter @coldcopy/analytics-worker bench            (ROWS=1000000 XLSX_ROWS=1200000)
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { closePool, createPool, loadDbEnv } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { createObjectStore, storageEnv } from '@coldcopy/storage';
import { startS3TestServer } from '@coldcopy/storage/testing';
import { databaseUrl, PostgresServer } from '@coldcopy/testing';
import ExcelJS from 'exceljs';
import { z } from 'zod';
import { build } from 'tsup';
import { createExportJob, emailEventsCsvChecksum, insertEvents } from '../test/fixtures.js';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const XLSX_ROWS = Number(process.env.XLSX_ROWS ?? 1_200_000);
const run = promisify(execFile);
const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const HEAP_CAP = '--max-old-space-size=128';
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

// Each export runs from a bundle, like the app in production (dist/main.js): running through tsx
// would add its transpiler's memory to the peak RSS measured.
const BUILD_DIR = '.bench-build';
await build({
  entry: { 'export-run': 'bench/export-run.ts' },
  outDir: BUILD_DIR,
  format: ['esm'],
  platform: 'node',
  target: 'node24',
  noExternal: [/^@coldcopy\//],
  external: ['bull'],
  esbuildOptions(options) {
    options.conditions = ['@coldcopy/source'];
  },
  config: false,
  silent: true,
});

const postgres = await PostgresServer.start();
const s3 = await startS3TestServer();
try {
  const admin = createPool(loadDbEnv({ DATABASE_URL: postgres.url, DATABASE_POOL_MAX: '1' }));
  await admin.query('CREATE DATABASE bench');
  await closePool(admin);
  const url = databaseUrl(postgres.url, 'bench');
  await migrate(url);
  const pool = createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '2' }));
  const workspaceId = randomUUID();
  await pool.query(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'Bench', $2)`, [workspaceId, `bench-${workspaceId.slice(0, 8)}`]);
  let t = performance.now();
  await insertEvents(pool, workspaceId, ROWS);
  await pool.query('VACUUM ANALYZE email_events');
  console.log(`seeded ${ROWS} email_events in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const exportOnce = async (format: 'csv' | 'json' | 'xlsx', nodeArgs: string[] = []) => {
    const exportJobId = await createExportJob(pool, workspaceId, 'email_events', format);
    const loadBefore = load();
    const { stdout } = await run(process.execPath, [...nodeArgs, `${BUILD_DIR}/export-run.js`], {
      cwd: APP_DIR,
      env: { ...process.env, ...s3.env, DATABASE_URL: url, WORKSPACE_ID: workspaceId, EXPORT_JOB_ID: exportJobId, FORMAT: format },
      maxBuffer: 1 << 20,
    });
    const figures = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    return { ...figures, nodeArgs: nodeArgs.join(' '), loadBefore, loadAfter: load() } as Record<string, any>;
  };

  const results: Array<Record<string, any>> = [];
  // Node's default heap sizing, then a heap capped as a container would set it (V8 otherwise lets
  // garbage pile up before collecting, which shows as RSS without being live memory)
  for (const nodeArgs of [[], [HEAP_CAP]]) {
    for (const format of ['csv', 'json'] as const) {
      const r = await exportOnce(format, nodeArgs);
      results.push(r);
      console.log(JSON.stringify(r));
    }
  }

  // CSV object against Postgres's own rendering of the same rows
  const csv = results[0]!;
  const fromDatabase = await emailEventsCsvChecksum(pool, workspaceId);
  const store = createObjectStore(z.object(storageEnv).parse(s3.env)).store;
  const objectHash = createHash('sha256');
  for await (const c of await store.get(csv.objectKey)) objectHash.update(c as Buffer);
  const fromObject = objectHash.digest('hex');
  console.log(`csv checksum: object ${fromObject} database ${fromDatabase} ${fromObject === fromDatabase ? 'MATCH' : 'MISMATCH'}`);

  // XLSX over XLSX_ROWS rows: more than one sheet
  t = performance.now();
  await insertEvents(pool, workspaceId, XLSX_ROWS - ROWS);
  await pool.query('VACUUM ANALYZE email_events');
  console.log(`added ${XLSX_ROWS - ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const xlsx = await exportOnce('xlsx', [HEAP_CAP]);
  console.log(JSON.stringify(xlsx));
  const sheets: Array<{ name: string; rows: number }> = [];
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(await store.get(xlsx.objectKey), { worksheets: 'emit', sharedStrings: 'ignore', hyperlinks: 'ignore', styles: 'ignore' });
  for await (const sheet of reader) {
    let rows = 0;
    for await (const _row of sheet) rows++;
    sheets.push({ name: (sheet as unknown as { name: string }).name, rows });
  }
  console.log(`xlsx sheets: ${JSON.stringify(sheets)}`);
  await closePool(pool);
} finally {
  await s3.close();
  await postgres.stop();
  await rm(join(APP_DIR, BUILD_DIR), { recursive: true, force: true });
}
