import { claimReportObjectKey, completeReportRun, failReportRun, findOrStartReportRun, loadReportData, recordReportEmail } from '@coldcopy/db';
import { type generateReport, isPermanentError, PermanentJobError } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import { EXPORT_URL_TTL_SECONDS, exportObjectKey } from '@coldcopy/storage';
import type { AnalyticsDeps } from '../deps.js';
import { renderReportPdf } from '../domain/report-pdf.js';

export interface GenerateReportResult {
  readonly objectKey: string;
  readonly url: string;
  readonly expiresAt: string;
  /** true when the email step ran in this attempt or an earlier one */
  readonly emailed: boolean;
  /** false when an earlier attempt had already stored the PDF */
  readonly rendered: boolean;
}

const TITLES: Record<string, string> = {
  'campaign-performance': 'Campaign performance',
  'workspace-overview': 'Workspace overview',
  deliverability: 'Deliverability',
  'lead-engagement': 'Lead engagement',
};

/**
 * Two steps on one report_runs row. (1) Render the PDF from the analytics views and store it
 * (skipped when an earlier attempt completed it). (2) Email the link to the recipients; when that
 * fails the job is retried and the next attempt goes straight to step 2: the PDF is never rendered
 * again for an email failure.
 */
export const generateReportHandler: Handler<typeof generateReport, AnalyticsDeps> = async (payload, ctx) => {
  const { pool, store, mailer, now } = ctx.deps;
  const { workspaceId, dateRange } = payload;
  const run = await findOrStartReportRun(pool, workspaceId, {
    reportId: payload.reportId,
    reportType: payload.reportType,
    campaignId: payload.campaignId,
    start: dateRange.start,
    end: dateRange.end,
    recipients: payload.recipients ?? [],
  });
  const title = TITLES[payload.reportType] ?? payload.reportType;

  let key = run.object_key;
  let rendered = false;
  if (run.status !== 'completed' || !key || !(await store.head(key))) {
    try {
      key = await claimReportObjectKey(
        pool,
        workspaceId,
        run.id,
        exportObjectKey(workspaceId, `report-${payload.reportType}-${dateRange.start}`, 'pdf', now()),
      );
      const data = await loadReportData(pool, workspaceId, { start: dateRange.start, end: dateRange.end, campaignId: payload.campaignId });
      const pdf = renderReportPdf(data, { title, period: dateRange, generatedAt: now() });
      await store.put(key, pdf, { contentType: 'application/pdf', metadata: { 'report-run': run.id, workspace: workspaceId }, signal: ctx.signal });
      await completeReportRun(pool, workspaceId, run.id, key);
      rendered = true;
      ctx.log.info('report stored', { key, runId: run.id });
    } catch (err) {
      if ((err as { code?: string }).code === '55000') {
        // a view never refreshed yet: refresh-analytics populates it within its interval
        throw new Error('analytics views are not populated yet; the report is retried after their first refresh', { cause: err });
      }
      if (isPermanentError(err) || ctx.attempt >= ctx.attempts) await failReportRun(pool, workspaceId, run.id, (err as Error).message).catch(() => {});
      throw err;
    }
  }

  const url = await store.presignGet(key, EXPORT_URL_TTL_SECONDS, { downloadName: `${payload.reportType}-${dateRange.start}.pdf` });
  const expiresAt = new Date(now().getTime() + EXPORT_URL_TTL_SECONDS * 1000).toISOString();
  let emailed = run.emailed_at !== null;
  const recipients = payload.recipients ?? [];
  if (recipients.length > 0 && !emailed) {
    if (!mailer) throw new PermanentJobError('report stored, but it cannot be emailed: REPORT_MAIL_FROM is not set');
    try {
      await mailer.send(
        {
          to: recipients,
          subject: `${title} report, ${dateRange.start} to ${dateRange.end}`,
          text: `Your ColdCopy report is ready:\n\n${url}\n\nThe link works until ${expiresAt}.`,
        },
        ctx.signal,
      );
      await recordReportEmail(pool, workspaceId, run.id, {});
      emailed = true;
    } catch (err) {
      await recordReportEmail(pool, workspaceId, run.id, { error: `email failed: ${(err as Error).message}` }).catch(() => {});
      throw err;
    }
  }
  return { objectKey: key, url, expiresAt, emailed, rendered } satisfies GenerateReportResult;
};
