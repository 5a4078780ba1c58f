import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo } from '@coldcopy/db/seed';
import { requireDebianBinary } from '@coldcopy/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateReportHandler, type GenerateReportResult } from '../src/handlers/generate-report.js';
import { createFakeReportMailer } from '../src/providers/report-mailer.js';
import { testContext, useAnalyticsHarness } from './harness.js';

const h = useAnalyticsHarness({ s3: true });
let workspaceId: string;

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  const client = await h.pool.connect();
  workspaceId = (await seedDemo(client, { seed: 606, leads: 600 })).workspaceId; // views refreshed by the seed
  client.release();
});

async function readObject(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await h.store.get(key)) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

describe('generate-report', () => {
  it('stores a PDF that pdftoppm renders; an email failure is retried without rendering the PDF again', async () => {
    const pdftoppm = requireDebianBinary('pdftoppm', 'poppler-utils');
    if (!pdftoppm.path) throw new Error(pdftoppm.missing);
    const mailer = createFakeReportMailer([new Error('SES throttled')]);
    const deps = h.deps({ mailer });
    const payload = {
      workspaceId,
      requestedBy: 'system',
      reportType: 'campaign-performance' as const,
      reportId: '0b0d3f39-5a0e-4c41-9a0f-3c7b5f1e2a11',
      dateRange: { start: day(-29), end: day(0) },
      format: 'pdf' as const,
      recipients: ['owner@example.com'],
    };
    await expect(generateReportHandler(payload, testContext(deps, { attempt: 1 }))).rejects.toThrow('SES throttled');
    const { rows: afterFailure } = await h.pool.query('SELECT status, object_key, emailed_at, error FROM report_runs WHERE report_id = $1', [payload.reportId]);
    expect(afterFailure).toHaveLength(1);
    expect(afterFailure[0]).toMatchObject({ status: 'completed', emailed_at: null, error: 'email failed: SES throttled' });
    const key = afterFailure[0].object_key as string;
    const firstPdf = await readObject(key);

    const retried = (await generateReportHandler(payload, testContext(deps, { attempt: 2 }))) as GenerateReportResult;
    expect(retried).toMatchObject({ objectKey: key, rendered: false, emailed: true });
    expect((await readObject(key)).equals(firstPdf)).toBe(true);
    expect(await h.store.list(`workspaces/${workspaceId}/exports/`)).toEqual([key]);
    expect(mailer.sent).toHaveLength(1);
    expect(mailer.sent[0]!.to).toEqual(['owner@example.com']);
    expect(mailer.sent[0]!.text).toContain(retried.url);
    expect(new URL(retried.url).searchParams.get('X-Amz-Expires')).toBe('3600');

    // the PDF renders, and its charts are vector paths (no embedded raster image)
    expect(firstPdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(firstPdf.includes(Buffer.from('/Subtype /Image'))).toBe(false);
    const dir = await mkdtemp(join(tmpdir(), 'coldcopy-report-'));
    try {
      await writeFile(join(dir, 'report.pdf'), firstPdf);
      execFileSync(pdftoppm.path, ['-png', '-r', '50', '-f', '1', '-l', '1', join(dir, 'report.pdf'), join(dir, 'page')]);
      const png = await readFile(join(dir, 'page-1.png'));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
