import { allJobs, jobInputJsonSchema } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { formatForms, payloadForms } from './catalog.js';

/** Sample strings tried, in order, against a field's pattern or format. */
const SAMPLES = [
  '20250709T1430Z',
  '2025-07-09T14:30:00.000Z',
  '2025-07-09',
  'ana@example.com',
  'example.com',
  'https://example.com/x',
  'abc',
  'abc_def',
  '12345',
];
const UUID = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

type Schema = Record<string, any>;

/** A value the JSON Schema accepts: the smallest that satisfies it (required fields only). */
function sample(s: Schema): unknown {
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf) return sample(s.anyOf[0]);
  switch (s.type) {
    case 'boolean':
      return true;
    case 'integer':
    case 'number':
      return s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : 1);
    case 'array':
      return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items));
    case 'object':
      return Object.fromEntries((s.required ?? []).map((k: string) => [k, sample(s.properties[k])]));
    case 'string': {
      if (s.format === 'uuid') return UUID;
      const found = SAMPLES.find(
        (v) =>
          (!s.pattern || new RegExp(s.pattern).test(v)) &&
          (!s.format ||
            (s.format === 'email'
              ? v.includes('@')
              : s.format === 'date'
                ? /^\d{4}-\d\d-\d\d$/.test(v)
                : s.format === 'date-time'
                  ? v.includes('T') && v.includes(':')
                  : s.format === 'uri'
                    ? v.startsWith('https:')
                    : true)),
      );
      if (found === undefined) throw new Error(`no sample string for ${JSON.stringify(s)}`);
      return found.padEnd(s.minLength ?? 0, 'x');
    }
    default:
      throw new Error(`no sample for ${JSON.stringify(s)}`);
  }
}

describe('catalog: the fields it marks optional are exactly the ones the schema accepts without', () => {
  for (const job of allJobs) {
    it(job.name, () => {
      const schema = jobInputJsonSchema(job) as Schema;
      const forms = payloadForms(schema);
      for (const form of forms) {
        const payload = Object.fromEntries(form.required.map((k) => [k, sample(schema.properties[k])]));
        const ok = job.inputSchema.safeParse(payload);
        expect(ok.success, `${job.name} ${formatForms([form]).join(',')}: ${JSON.stringify(ok.error?.issues)}`).toBe(true);
        for (const field of form.required) {
          const { [field]: _dropped, ...without } = payload;
          const refused = job.inputSchema.safeParse(without);
          expect(refused.success, `${job.name} accepted a payload without ${field}`).toBe(false);
          // without the field that selects the form, the payload reads as another form, whose
          // missing fields are named instead
          if (field !== form.key) expect(refused.error!.issues.map((i) => i.path.join('.'))).toContain(field);
        }
        for (const field of form.optional) {
          const withIt = job.inputSchema.safeParse({ ...payload, [field]: sample(schema.properties[field]) });
          expect(withIt.success, `${job.name}: optional ${field} refused: ${JSON.stringify(withIt.error?.issues)}`).toBe(true);
        }
      }
    });
  }

  it('send-bulk-email: windowSlot is required with campaignId and optional in the fan-out form', () => {
    const job = allJobs.find((j) => j.name === 'send-bulk-email')!;
    const lines = formatForms(payloadForms(jobInputJsonSchema(job)));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\{ workspaceId, campaignId, windowSlot, /);
    expect(lines[0]).not.toMatch(/windowSlot\?|fanOut/);
    expect(lines[1]).toMatch(/^or \{ fanOut, .*windowSlot\?/);
    expect(lines[1]).not.toMatch(/workspaceId|campaignId/);
  });
});
