/**
 * Export benchmark (issue 15's acceptance): 1,000,000 email_events rows as CSV and JSON, then
 * 1,200,000 as XLSX, each export in its own process against a private Postgres and a local S3
 * server (s3rver). Prints markdown rows: rows/s, peak RSS (sampled every 25 ms in the export
 * process) with the heap/external split at the peak, and the checks: the CSV object against a
 * SHA-256 computed by Postgres, the JSON object against the streamed SHA-256 and its row count, the
 * XLSX sheets.
 *
 *   pnpm --filter @coldcopy/analytics-worker bench     (ROWS=1000000 XLSX_ROWS=1200000 FORMATS=csv,json,xlsx)
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
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
/** which exports to run (default all three) */
const FORMATS = new Set((process.env.FORMATS ?? 'csv,json,xlsx').split(',').map((f) => f.trim()));
const XLSX_ROWS = Number(process.env.XLSX_ROWS ?? 1_200_000);
const run = promisify(execFile);
const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
/** extra node flags for the export processes (none by default: the figures are Node's defaults) */
const NODE_ARGS = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

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

  const exportOnce = async (format: 'csv' | 'json' | 'xlsx') => {
    const exportJobId = await createExportJob(pool, workspaceId, 'email_events', format);
    const loadBefore = load();
    const { stdout } = await run(process.execPath, [...NODE_ARGS, `${BUILD_DIR}/export-run.js`], {
      cwd: APP_DIR,
      env: { ...process.env, ...s3.env, DATABASE_URL: url, WORKSPACE_ID: workspaceId, EXPORT_JOB_ID: exportJobId, FORMAT: format },
      maxBuffer: 1 << 20,
    });
    const figures = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    return { ...figures, loadBefore, loadAfter: load() } as Record<string, any>;
  };
  const store = createObjectStore(z.object(storageEnv).parse(s3.env)).store;
  const objectSha256 = async (key: string) => {
    const hash = createHash('sha256');
    let lines = 0;
    for await (const c of await store.get(key)) {
      hash.update(c as Buffer);
      for (let i = (c as Buffer).indexOf(10); i !== -1; i = (c as Buffer).indexOf(10, i + 1)) lines++;
    }
    return { sha256: hash.digest('hex'), lines };
  };

  const table: string[] = [];
  const row = (r: Record<string, any>, check: string) =>
    table.push(
      `| ${r.format.toUpperCase()} | ${r.rows.toLocaleString('en')} | ${(r.bytes / 1024 / 1024).toFixed(0)} MB | ${r.seconds.toFixed(1)} | ${r.rowsPerSecond.toLocaleString('en')} | ${r.peakRssMb} MB | ${r.atPeak.heapUsedMb} / ${r.atPeak.externalMb} MB | ${r.baselineRssMb} MB | ${check} | ${r.loadBefore} |`,
    );

  // CSV: the object against Postgres's own rendering of the same rows (fixtures.ts)
  if (FORMATS.has('csv')) {
    const csv = await exportOnce('csv');
    console.log(JSON.stringify(csv));
    const fromDatabase = await emailEventsCsvChecksum(pool, workspaceId);
    const csvObject = await objectSha256(csv.objectKey);
    row(csv, `object ${csvObject.sha256 === fromDatabase ? '=' : '≠'} database SHA-256 (${fromDatabase.slice(0, 12)}…)`);
  }

  // JSON: the object is the bytes the export produced, one line per row plus the brackets
  if (FORMATS.has('json')) {
    const json = await exportOnce('json');
    console.log(JSON.stringify(json));
    const jsonObject = await objectSha256(json.objectKey);
    row(
      json,
      `object ${jsonObject.sha256 === json.sha256 ? '=' : '≠'} streamed SHA-256, ${jsonObject.lines === json.rows + 2 ? '' : 'NOT '}${(json.rows as number).toLocaleString('en')} rows`,
    );
  }

  // XLSX over XLSX_ROWS rows: more than one sheet
  if (FORMATS.has('xlsx')) {
    t = performance.now();
    await insertEvents(pool, workspaceId, XLSX_ROWS - ROWS);
    await pool.query('VACUUM ANALYZE email_events');
    console.log(`added ${XLSX_ROWS - ROWS} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const xlsx = await exportOnce('xlsx');
    console.log(JSON.stringify(xlsx));
    const sheets: Array<{ name: string; rows: number }> = [];
    const reader = new ExcelJS.stream.xlsx.WorkbookReader(await store.get(xlsx.objectKey), {
      worksheets: 'emit',
      sharedStrings: 'ignore',
      hyperlinks: 'ignore',
      styles: 'ignore',
    });
    for await (const sheet of reader) {
      let rows = 0;
      for await (const _row of sheet) rows++;
      sheets.push({ name: (sheet as unknown as { name: string }).name, rows });
    }
    row(xlsx, `${sheets.length} sheets (${sheets.map((s) => s.rows.toLocaleString('en')).join(' + ')} rows with headers)`);
  }

  console.log(
    `\nNode ${process.version}${NODE_ARGS.length ? ` ${NODE_ARGS.join(' ')}` : ''}, ${cpus().length} CPUs, bench \`ROWS=${ROWS} XLSX_ROWS=${XLSX_ROWS} FORMATS=${[...FORMATS].join(',')} pnpm --filter @coldcopy/analytics-worker bench\`\n`,
  );
  console.log('| export | rows | size | seconds | rows/s | peak RSS (sampled) | heap / external at peak | RSS before | check | load before |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|---|');
  for (const line of table) console.log(line);
  await closePool(pool);
} finally {
  await s3.close();
  await postgres.stop();
  await rm(join(APP_DIR, BUILD_DIR), { recursive: true, force: true });
}
