/**
 * Renders the sample report of the README: a private Postgres with the demo seed (views
 * refreshed), the report of its last 30 days, page 1 rasterised by pdftoppm into
 * docs/analytics-report.png.   pnpm --filter @coldcopy/analytics-worker exec tsx bench/sample-report.ts
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { closePool, createPool, loadDbEnv, loadReportData } from '@coldcopy/db';
import { migrate } from '@coldcopy/db/migrate';
import { seedDemo } from '@coldcopy/db/seed';
import { databaseUrl, requireDebianBinary, PostgresServer } from '@coldcopy/testing';
import { renderReportPdf } from '../src/domain/report-pdf.js';

const OUT = fileURLToPath(new URL('../../../docs/analytics-report.png', import.meta.url));
const pdftoppm = requireDebianBinary('pdftoppm', 'poppler-utils');
if (!pdftoppm.path) throw new Error(pdftoppm.missing);

const postgres = await PostgresServer.start();
const dir = await mkdtemp(join(tmpdir(), 'coldcopy-sample-report-'));
try {
  const admin = createPool(loadDbEnv({ DATABASE_URL: postgres.url, DATABASE_POOL_MAX: '1' }));
  await admin.query('CREATE DATABASE sample');
  await closePool(admin);
  const url = databaseUrl(postgres.url, 'sample');
  await migrate(url);
  const pool = createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '2', DATABASE_STATEMENT_TIMEOUT_MS: '0' }));
  const client = await pool.connect();
  const { workspaceId } = await seedDemo(client, { seed: 42, leads: 2000 });
  client.release();
  const end = new Date();
  const start = new Date(end.getTime() - 29 * 86_400_000);
  const period = { start: start.toISOString().slice(0, 10), end: end.toISOString().slice(0, 10) };
  const data = await loadReportData(pool, workspaceId, period);
  await closePool(pool);
  const pdfPath = join(dir, 'report.pdf');
  await pipeline(
    renderReportPdf(data, { title: 'Campaign performance', workspaceName: 'Demo workspace', period, generatedAt: end }),
    createWriteStream(pdfPath),
  );
  execFileSync(pdftoppm.path, ['-png', '-r', '80', '-f', '1', '-l', '1', '-singlefile', pdfPath, OUT.replace(/\.png$/, '')]);
  console.log(`wrote ${OUT}`);
} finally {
  await rm(dir, { recursive: true, force: true });
  await postgres.stop();
}
