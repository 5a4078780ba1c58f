/**
 * What `pnpm jobs catalog` prints for a job: its payload's forms, each with the fields it requires
 * and the optional ones it allows, read from the job's input JSON Schema. Most jobs have one form
 * (`required` and `properties`); a job with several forms (send-bulk-email's per-campaign tick and
 * fan-out) states them with `anyOf: [{ required: [k] }, …]`, `dependentRequired` (a field that
 * brings others along) and `dependentSchemas: { k: { not: { anyOf: [{ required: [x] }, …] } } }`
 * (fields not allowed with k). A form is the closure of those rules, so the catalog marks a field
 * optional exactly when the schema accepts the payload without it.
 */
export interface PayloadForm {
  /** the field that selects this form (`campaignId`, `fanOut`), if the job has several */
  readonly key?: string;
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

interface ObjectSchema {
  properties?: Record<string, unknown>;
  required?: string[];
  anyOf?: Array<{ required?: string[] }>;
  dependentRequired?: Record<string, string[]>;
  dependentSchemas?: Record<string, { not?: { anyOf?: Array<{ required?: string[] }> } }>;
}

export function payloadForms(jsonSchema: Record<string, unknown>): PayloadForm[] {
  const schema = jsonSchema as ObjectSchema;
  const props = Object.keys(schema.properties ?? {});
  const selectors = (schema.anyOf ?? [])
    .map((a) => a.required ?? [])
    .filter((r) => r.length === 1)
    .map((r) => r[0]!);
  const keys: Array<string | undefined> = selectors.length > 0 ? selectors : [undefined];
  return keys.map((key) => {
    const required = new Set([...(schema.required ?? []), ...(key ? [key] : [])]);
    // a required field brings its dependents: repeat until nothing is added
    for (let grew = true; grew;) {
      grew = false;
      for (const field of [...required]) {
        for (const dep of schema.dependentRequired?.[field] ?? []) {
          if (!required.has(dep)) {
            required.add(dep);
            grew = true;
          }
        }
      }
    }
    const forbidden = (field: string): string[] => (schema.dependentSchemas?.[field]?.not?.anyOf ?? []).flatMap((a) => a.required ?? []);
    // not allowed here: what a required field forbids, a field that would forbid a required one,
    // and a field that would bring a field not allowed here (repeat until nothing is added)
    const disallowed = new Set<string>();
    for (const field of required) for (const f of forbidden(field)) disallowed.add(f);
    for (let grew = true; grew;) {
      grew = false;
      for (const p of props) {
        if (required.has(p) || disallowed.has(p)) continue;
        const brings = schema.dependentRequired?.[p] ?? [];
        if (forbidden(p).some((f) => required.has(f)) || brings.some((d) => disallowed.has(d))) {
          disallowed.add(p);
          grew = true;
        }
      }
    }
    const optional = props.filter((p) => !required.has(p) && !disallowed.has(p));
    return { ...(key ? { key } : {}), required: props.filter((p) => required.has(p)), optional };
  });
}

/** `{ a, b, c?, d? }`, one line per form (`or { … }` for the second and later ones). */
export function formatForms(forms: readonly PayloadForm[]): string[] {
  return forms.map((f, i) => `${i === 0 ? '' : 'or '}{ ${[...f.required, ...f.optional.map((o) => `${o}?`)].join(', ')} }`);
}
