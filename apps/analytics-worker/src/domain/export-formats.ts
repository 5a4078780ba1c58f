import { once } from 'node:events';
import { Transform, Writable } from 'node:stream';
import type { ExportColumn } from '@coldcopy/db';
import type ExcelJS from 'exceljs';

/** A row from the export cursor: text values (or null) in column order. */
export type ExportRow = ReadonlyArray<string | null>;

export const CONTENT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
} as const;

const LF = 0x0a;
const QUOTE = 0x22;

/** A byte transform that also counts the records it has passed on. */
export type CountingTransform = Transform & { readonly records: number };

/**
 * CSV per RFC 4180 from Postgres's COPY CSV output (header row, fields quoted when they hold a
 * comma, a quote or a line break, quotes doubled): every record end becomes CRLF, line breaks
 * inside quoted fields stay as they are. Works on bytes as they come (a chunk may end anywhere,
 * even inside a quoted field); counts the records after the header.
 */
export function csvFromCopy(): CountingTransform {
  let quoted = false;
  let lines = 0;
  const ends: number[] = [];
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      ends.length = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === QUOTE)
          quoted = !quoted; // a doubled quote toggles twice
        else if (b === LF && !quoted) ends.push(i);
      }
      if (ends.length === 0) return done(null, chunk);
      const out = Buffer.allocUnsafe(chunk.length + ends.length);
      let from = 0;
      let at = 0;
      for (const e of ends) {
        at += chunk.copy(out, at, from, e);
        out[at++] = 0x0d;
        out[at++] = LF;
        from = e + 1;
      }
      chunk.copy(out, at, from);
      lines += ends.length;
      done(null, out);
    },
  });
  return Object.defineProperty(t, 'records', { get: () => Math.max(0, lines - 1) }) as CountingTransform;
}

const CLOSE = Buffer.from('\n]\n');
const EMPTY = Buffer.from('[]\n');

/**
 * A streamed JSON array from one JSON document per line (openExportCopy's `json`): `[`, the
 * documents separated by `,` and a line break, `]`. A separator is written only when the next
 * document starts, so the array closes correctly wherever the chunks end. One output buffer per
 * chunk, nothing per row.
 */
export function jsonArrayFromLines(): CountingTransform {
  let started = false;
  let pending = false; // a document ended; its separator waits for the next one
  let records = 0;
  const starts: number[] = []; // where documents start in the chunk
  const ends: number[] = []; // where they end (exclusive)
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      starts.length = 0;
      ends.length = 0;
      for (let from = 0; from < chunk.length;) {
        const lf = chunk.indexOf(LF, from);
        const end = lf === -1 ? chunk.length : lf;
        if (end > from) {
          starts.push(from);
          ends.push(end);
        }
        if (lf === -1) break;
        records++;
        from = lf + 1;
      }
      if (starts.length === 0) {
        // only line ends: the documents before them are complete
        if (chunk.length > 0) pending = true;
        return done();
      }
      // each segment is preceded by `[\n`, `,\n` or nothing (a document continued from the last chunk)
      let length = 0;
      for (let i = 0; i < starts.length; i++) length += ends[i]! - starts[i]! + 2;
      const out = Buffer.allocUnsafe(length);
      let at = 0;
      for (let i = 0; i < starts.length; i++) {
        const continued = i === 0 && started && !pending && starts[0] === 0;
        if (!continued) {
          out[at++] = started ? 0x2c : 0x5b; // `,` or `[`
          out[at++] = LF;
        }
        started = true;
        at += chunk.copy(out, at, starts[i], ends[i]);
        pending = ends[i]! < chunk.length; // a line end follows this segment
      }
      done(null, at === length ? out : out.subarray(0, at));
    },
    flush(done) {
      done(null, started ? CLOSE : EMPTY);
    },
  });
  return Object.defineProperty(t, 'records', { get: () => records }) as CountingTransform;
}

/**
 * XLSX through exceljs's streaming WorkbookWriter (no shared strings, no styles: each row is
 * serialised once and zipped as it goes). A sheet holds at most `maxRowsPerSheet` rows including
 * its header; the next rows go to a new sheet.
 *
 * Back-pressure: exceljs hands a sheet's XML to the zip (archiver) through a PassThrough without
 * ever waiting for it (exceljs 4.4 StreamBuf ignores write()'s return value), so a fast cursor
 * piles the whole sheet up in memory (about 1 GB for 1.2 M rows). A row is therefore accepted only
 * once that PassThrough has drained, and `out` (the bytes towards the upload) has room: the zip
 * reads at the upload's pace, the sheet waits for the zip, the cursor waits for the sheet.
 */
export async function xlsxSink(columns: readonly ExportColumn[], out: Writable, options: { maxRowsPerSheet: number; sheetName: string }): Promise<Writable> {
  // loaded on the first XLSX export: exceljs is about 40 MB of RSS that CSV and JSON never need
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false, zip: { zlib: { level: 1 } } });
  const stopped = new AbortController();
  let sheet: ExcelJS.Worksheet | undefined;
  let sheetRows = 0;
  let sheets = 0;
  const headers = columns.map((c) => c.header);
  const nextSheet = () => {
    sheet?.commit();
    sheets++;
    sheet = workbook.addWorksheet(`${options.sheetName} ${sheets}`);
    sheet.addRow(headers).commit();
    sheetRows = 1;
  };
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 256,
    write(row: ExportRow, _enc, done) {
      if (!sheet || sheetRows >= options.maxRowsPerSheet) nextSheet();
      sheet!.addRow(row).commit();
      sheetRows++;
      const full = [zipEntryInput(sheet!), out].find(needsDrain);
      if (full) once(full, 'drain', { signal: stopped.signal }).then(() => done(), done);
      else done();
    },
    final(done) {
      if (!sheet) nextSheet();
      sheet!.commit();
      workbook.commit().then(() => done(), done);
    },
    destroy(err, done) {
      stopped.abort(err ?? new Error('xlsx sink destroyed'));
      done(err);
    },
  });
  // the upload side failed (the byte cap, the storage): stop taking rows
  out.once('error', (err) => sink.destroy(err));
  return sink;
}

/**
 * The PassThrough archiver reads a worksheet's XML from (exceljs 4.4 / archiver 5 internals,
 * pinned in the catalog): a readable-stream 2 PassThrough, whose state is `_writableState`.
 */
function zipEntryInput(sheet: ExcelJS.Worksheet): Writable | undefined {
  return (sheet as unknown as { stream?: { pipes?: Writable[] } }).stream?.pipes?.[0];
}

function needsDrain(stream: Writable | undefined): stream is Writable {
  if (!stream) return false;
  return stream.writableNeedDrain ?? (stream as unknown as { _writableState?: { needDrain?: boolean } })._writableState?.needDrain === true;
}

/** The 500 MB cap, checked on every chunk; the error is permanent (retrying makes the same file). */
export class ExportTooLargeError extends Error {
  override name = 'ExportTooLargeError';
  readonly permanent = true;
  constructor(readonly maxBytes: number) {
    super(
      `export exceeds the ${maxBytes >= 1024 * 1024 ? `${Math.round(maxBytes / 1024 / 1024)} MB` : `${Math.round(maxBytes / 1024)} kB`} limit: narrow the filters or the fields`,
    );
  }
}
