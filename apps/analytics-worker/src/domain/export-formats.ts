import { once } from 'node:events';
import { Transform, Writable } from 'node:stream';
import type { ExportColumn } from '@coldcopy/db';
import { stringify } from 'csv-stringify';
import ExcelJS from 'exceljs';

/** A row from the export cursor: text values (or null) in column order. */
export type ExportRow = ReadonlyArray<string | null>;

export const CONTENT_TYPES = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
} as const;

/**
 * CSV per RFC 4180: header row, CRLF line ends, fields quoted when they hold a comma, a quote or
 * a line break (csv-stringify quotes only its own record delimiter by default, so bare CR/LF are
 * matched explicitly). NULL and empty both become an empty field.
 */
export function csvFormatter(columns: readonly ExportColumn[]): Transform {
  return stringify({
    header: true,
    columns: columns.map((c) => c.header),
    record_delimiter: 'windows',
    quoted_match: /[\r\n]/,
  });
}

/**
 * A streamed JSON array: `[`, one object per row (keys are the field names), `]`. The key part of
 * each member is serialised once; for raw rows (Postgres-rendered JSON documents) the text is
 * written as it is.
 */
export function jsonFormatter(columns: readonly ExportColumn[], raw: boolean): Transform {
  const keys = columns.map((c, i) => `${i === 0 ? '{' : ','}${JSON.stringify(c.field)}:`);
  let first = true;
  return new Transform({
    writableObjectMode: true,
    transform(row: ExportRow, _enc, done) {
      let out = first ? '[\n' : ',\n';
      first = false;
      if (raw) out += row[0] ?? 'null';
      else {
        for (let i = 0; i < keys.length; i++) {
          const v = row[i];
          out += keys[i] + (v === null || v === undefined ? 'null' : JSON.stringify(v));
        }
        out += '}';
      }
      done(null, out);
    },
    flush(done) {
      done(null, first ? '[]\n' : '\n]\n');
    },
  });
}

/**
 * XLSX through exceljs's streaming WorkbookWriter (no shared strings, no styles: each row is
 * serialised once and zipped as it goes). A sheet holds at most `maxRowsPerSheet` rows including
 * its header; the next rows go to a new sheet. Back-pressure: a row is accepted only once `out`
 * (the byte stream towards the upload) has room.
 */
export function xlsxSink(columns: readonly ExportColumn[], out: Writable, options: { maxRowsPerSheet: number; sheetName: string }): Writable {
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: false, useSharedStrings: false, zip: { zlib: { level: 1 } } });
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
  return new Writable({
    objectMode: true,
    highWaterMark: 256,
    write(row: ExportRow, _enc, done) {
      if (!sheet || sheetRows >= options.maxRowsPerSheet) nextSheet();
      sheet!.addRow(row as (string | null)[]).commit();
      sheetRows++;
      if (out.writableNeedDrain) once(out, 'drain').then(() => done(), done);
      else done();
    },
    final(done) {
      if (!sheet) nextSheet();
      sheet!.commit();
      workbook.commit().then(() => done(), done);
    },
  });
}

/** The 500 MB cap, checked on every chunk; the error is permanent (retrying makes the same file). */
export class ExportTooLargeError extends Error {
  override name = 'ExportTooLargeError';
  readonly permanent = true;
  constructor(readonly maxBytes: number) {
    super(`export exceeds the ${Math.round(maxBytes / 1024 / 1024)} MB limit: narrow the filters or the fields`);
  }
}
