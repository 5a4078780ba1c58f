import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { type CountingTransform, csvFromCopy, jsonArrayFromLines } from './export-formats.js';

/** `input` cut into chunks of `size` bytes (so boundaries fall inside quotes, CRLFs, documents) */
async function through(transform: CountingTransform, input: string, size: number): Promise<string> {
  const bytes = Buffer.from(input);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return text(Readable.from(chunks).pipe(transform));
}

describe('csvFromCopy', () => {
  // COPY CSV output: LF record ends, a quoted field holding a line break, doubled quotes, an empty string
  const copy = 'id,note\n1,"line one\nline two"\n2,"say ""hi"", then go"\n3,\n4,""\n';
  const rfc4180 = 'id,note\r\n1,"line one\nline two"\r\n2,"say ""hi"", then go"\r\n3,\r\n4,""\r\n';

  it('ends every record with CRLF and leaves line breaks inside quoted fields, wherever the chunks end', async () => {
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const t = csvFromCopy();
      expect(await through(t, copy, size)).toBe(rfc4180);
      expect(t.records).toBe(4);
    }
  });

  it('a header alone is zero records', async () => {
    const t = csvFromCopy();
    expect(await through(t, 'a,b\n', 2)).toBe('a,b\r\n');
    expect(t.records).toBe(0);
  });
});

describe('jsonArrayFromLines', () => {
  const lines = '{"a":"x,y"}\n{"a":null}\n{"a":"\\n"}\n';

  it('frames one document per line as a JSON array, wherever the chunks end', async () => {
    for (const size of [1, 2, 3, 11, 64]) {
      const t = jsonArrayFromLines();
      const out = await through(t, lines, size);
      expect(out).toBe('[\n{"a":"x,y"},\n{"a":null},\n{"a":"\\n"}\n]\n');
      expect(JSON.parse(out)).toEqual([{ a: 'x,y' }, { a: null }, { a: '\n' }]);
      expect(t.records).toBe(3);
    }
  });

  it('no rows is an empty array', async () => {
    const t = jsonArrayFromLines();
    expect(await through(t, '', 1)).toBe('[]\n');
    expect(t.records).toBe(0);
  });
});
