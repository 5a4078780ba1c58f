import type { ReportData } from '@coldcopy/db';
import PDFDocument from 'pdfkit';

export interface ReportMeta {
  readonly title: string;
  readonly workspaceName?: string;
  readonly period: { readonly start: string; readonly end: string };
  readonly generatedAt: Date;
}

const COLORS = {
  sent: '#2563eb',
  opens: '#16a34a',
  clicks: '#f59e0b',
  replies: '#9333ea',
  bounced: '#dc2626',
  complained: '#111827',
  grid: '#e5e7eb',
  text: '#111827',
  muted: '#6b7280',
};
const pct = (n: number, d: number) => (d > 0 ? `${((n / d) * 100).toFixed(1)} %` : '–');

/**
 * The report as a PDF stream (pdfkit): a summary table per campaign, then two charts drawn as
 * vector paths (no raster images): sends, opens, clicks and replies per day, and deliverability
 * per day (delivered share as a line over bounce and complaint bars). Pipe the returned stream
 * straight into the upload; call nothing after.
 */
export function renderReportPdf(data: ReportData, meta: ReportMeta): PDFKit.PDFDocument {
  const doc = new PDFDocument({ size: 'A4', margin: 48, info: { Title: meta.title, Producer: 'ColdCopy', CreationDate: meta.generatedAt } });
  const left = doc.page.margins.left;
  const width = doc.page.width - left - doc.page.margins.right;

  doc.fillColor(COLORS.text).font('Helvetica-Bold').fontSize(20).text(meta.title, left, 48);
  doc
    .font('Helvetica')
    .fontSize(10)
    .fillColor(COLORS.muted)
    .text(
      `${meta.workspaceName ? `${meta.workspaceName} · ` : ''}${meta.period.start} to ${meta.period.end} · generated ${meta.generatedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    );
  doc.moveDown(1);

  // totals
  const total = data.campaigns.reduce(
    (t, c) => ({
      sent: t.sent + c.sent,
      delivered: t.delivered + c.delivered,
      opens: t.opens + c.unique_opens,
      clicks: t.clicks + c.unique_clicks,
      replies: t.replies + c.replies,
      bounces: t.bounces + c.bounces,
    }),
    { sent: 0, delivered: 0, opens: 0, clicks: 0, replies: 0, bounces: 0 },
  );
  const tiles: Array<[string, string]> = [
    ['Sent', String(total.sent)],
    ['Delivered', pct(total.delivered, total.sent)],
    ['Opened', pct(total.opens, total.sent)],
    ['Clicked', pct(total.clicks, total.sent)],
    ['Replied', pct(total.replies, total.sent)],
    ['Bounced', pct(total.bounces, total.sent)],
  ];
  const tileW = width / tiles.length;
  const tileY = doc.y;
  tiles.forEach(([label, value], i) => {
    const x = left + i * tileW;
    doc
      .roundedRect(x + 2, tileY, tileW - 4, 44, 4)
      .fillColor('#f3f4f6')
      .fill();
    doc
      .fillColor(COLORS.muted)
      .fontSize(8)
      .text(label, x + 8, tileY + 7, { width: tileW - 16 });
    doc
      .fillColor(COLORS.text)
      .font('Helvetica-Bold')
      .fontSize(14)
      .text(value, x + 8, tileY + 20, { width: tileW - 16 });
    doc.font('Helvetica');
  });
  doc.y = tileY + 60;

  // summary table
  const cols: Array<{ label: string; w: number; value: (c: ReportData['campaigns'][number]) => string }> = [
    { label: 'Campaign', w: 0.3, value: (c) => c.name },
    { label: 'Sent', w: 0.1, value: (c) => String(c.sent) },
    { label: 'Delivered', w: 0.12, value: (c) => pct(c.delivered, c.sent) },
    { label: 'Opens', w: 0.12, value: (c) => pct(c.unique_opens, c.sent) },
    { label: 'Clicks', w: 0.12, value: (c) => pct(c.unique_clicks, c.sent) },
    { label: 'Replies', w: 0.12, value: (c) => pct(c.replies, c.sent) },
    { label: 'Bounces', w: 0.12, value: (c) => pct(c.bounces, c.sent) },
  ];
  const rowH = 16;
  const drawRow = (cells: string[], y: number, bold: boolean) => {
    let x = left;
    doc
      .font(bold ? 'Helvetica-Bold' : 'Helvetica')
      .fontSize(9)
      .fillColor(COLORS.text);
    cells.forEach((cell, i) => {
      const w = cols[i]!.w * width;
      doc.text(cell, x + 4, y + 4, { width: w - 8, height: rowH - 4, ellipsis: true, lineBreak: false, align: i === 0 ? 'left' : 'right' });
      x += w;
    });
  };
  doc.font('Helvetica-Bold').fontSize(12).fillColor(COLORS.text).text('Campaigns', left, doc.y);
  let y = doc.y + 4;
  doc.rect(left, y, width, rowH).fillColor('#f3f4f6').fill();
  drawRow(
    cols.map((c) => c.label),
    y,
    true,
  );
  y += rowH;
  const shown = data.campaigns.slice(0, 12);
  for (const c of shown) {
    drawRow(
      cols.map((col) => col.value(c)),
      y,
      false,
    );
    doc
      .moveTo(left, y + rowH)
      .lineTo(left + width, y + rowH)
      .lineWidth(0.5)
      .strokeColor(COLORS.grid)
      .stroke();
    y += rowH;
  }
  if (data.campaigns.length === 0) {
    doc
      .fillColor(COLORS.muted)
      .fontSize(9)
      .text('No sends in this period.', left + 4, y + 4);
    y += rowH;
  } else if (data.campaigns.length > shown.length) {
    doc
      .fillColor(COLORS.muted)
      .fontSize(8)
      .text(`… and ${data.campaigns.length - shown.length} more campaigns`, left + 4, y + 3);
    y += rowH;
  }

  // activity chart
  y += 18;
  doc.font('Helvetica-Bold').fontSize(12).fillColor(COLORS.text).text('Activity per day', left, y);
  y = doc.y + 6;
  const chartH = 150;
  const activitySeries = [
    { label: 'Sends', color: COLORS.sent, values: data.days.map((d) => d.sent) },
    { label: 'Opens', color: COLORS.opens, values: data.days.map((d) => d.opens) },
    { label: 'Clicks', color: COLORS.clicks, values: data.days.map((d) => d.clicks) },
    { label: 'Replies', color: COLORS.replies, values: data.days.map((d) => d.replies) },
  ];
  lineChart(
    doc,
    { x: left, y, w: width, h: chartH },
    data.days.map((d) => d.day),
    activitySeries,
  );
  y += chartH + 34;

  // deliverability chart: bounce and complaint bars (counts) under the delivered share (line, %)
  if (y + chartH + 40 > doc.page.height - doc.page.margins.bottom) {
    doc.addPage();
    y = doc.page.margins.top;
  }
  doc.font('Helvetica-Bold').fontSize(12).fillColor(COLORS.text).text('Deliverability per day', left, y);
  y = doc.y + 6;
  const days = data.deliverability.map((d) => d.day);
  barChart(doc, { x: left, y, w: width, h: chartH }, days, [
    { label: 'Bounced', color: COLORS.bounced, values: data.deliverability.map((d) => d.bounced) },
    { label: 'Complaints', color: COLORS.complained, values: data.deliverability.map((d) => d.complained) },
  ]);
  const share = data.deliverability.map((d) => (d.sent > 0 ? (d.delivered / d.sent) * 100 : 0));
  polyline(doc, { x: left, y, w: width, h: chartH }, share, 100, COLORS.opens, 1.5);
  for (let i = 0; i <= 4; i++) {
    doc
      .fillColor(COLORS.opens)
      .fontSize(7)
      .text(`${i * 25} %`, left + width + 4, y + chartH - (chartH * i) / 4 - 3, { width: 30, lineBreak: false });
  }
  legend(doc, left, y + chartH + 20, [{ label: 'Delivered % (right scale)', color: COLORS.opens }]);
  doc.end();
  return doc;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Series {
  label: string;
  color: string;
  values: number[];
}

function axes(doc: PDFKit.PDFDocument, box: Box, labels: string[], max: number): void {
  doc.lineWidth(0.5).strokeColor(COLORS.grid);
  for (let i = 0; i <= 4; i++) {
    const gy = box.y + box.h - (box.h * i) / 4;
    doc
      .moveTo(box.x, gy)
      .lineTo(box.x + box.w, gy)
      .stroke();
    doc
      .fillColor(COLORS.muted)
      .fontSize(7)
      .text(String(Math.round((max * i) / 4)), box.x - 40, gy - 3, { width: 36, align: 'right', lineBreak: false });
  }
  const step = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((label, i) => {
    if (i % step !== 0) return;
    const lx = box.x + (labels.length === 1 ? box.w / 2 : (box.w * i) / (labels.length - 1));
    doc
      .fillColor(COLORS.muted)
      .fontSize(7)
      .text(label.slice(5), lx - 15, box.y + box.h + 4, { width: 30, align: 'center', lineBreak: false });
  });
}

function niceMax(values: number[]): number {
  const max = Math.max(1, ...values);
  const magnitude = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / magnitude) * magnitude;
}

function polyline(doc: PDFKit.PDFDocument, box: Box, values: number[], max: number, color: string, width = 1.2): void {
  if (values.length === 0) return;
  const px = (i: number) => box.x + (values.length === 1 ? box.w / 2 : (box.w * i) / (values.length - 1));
  const py = (v: number) => box.y + box.h - (box.h * v) / max;
  doc.moveTo(px(0), py(values[0]!));
  values.forEach((v, i) => i > 0 && doc.lineTo(px(i), py(v)));
  doc.lineWidth(width).strokeColor(color).stroke();
}

function legend(doc: PDFKit.PDFDocument, x: number, y: number, series: Array<{ label: string; color: string }>): void {
  let lx = x;
  for (const s of series) {
    doc.rect(lx, y, 10, 6).fillColor(s.color).fill();
    doc
      .fillColor(COLORS.text)
      .fontSize(8)
      .text(s.label, lx + 14, y - 1, { lineBreak: false });
    lx += 24 + doc.widthOfString(s.label);
  }
}

function lineChart(doc: PDFKit.PDFDocument, box: Box, labels: string[], series: Series[]): void {
  const max = niceMax(series.flatMap((s) => s.values));
  axes(doc, box, labels, max);
  for (const s of series) polyline(doc, box, s.values, max, s.color);
  legend(doc, box.x, box.y + box.h + 18, series);
}

function barChart(doc: PDFKit.PDFDocument, box: Box, labels: string[], series: Series[]): void {
  const max = niceMax(series.flatMap((s) => s.values));
  axes(doc, box, labels, max);
  const n = Math.max(1, labels.length);
  const slot = box.w / n;
  const barW = Math.max(0.8, (slot * 0.7) / series.length);
  series.forEach((s, si) => {
    s.values.forEach((v, i) => {
      if (v <= 0) return;
      const h = (box.h * v) / max;
      const cx = box.x + (n === 1 ? box.w / 2 : (box.w * i) / (n - 1));
      doc
        .rect(cx - (barW * series.length) / 2 + si * barW, box.y + box.h - h, barW, h)
        .fillColor(s.color)
        .fill();
    });
  });
  legend(doc, box.x + 260, box.y + box.h + 18, series);
}
