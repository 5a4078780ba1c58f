import { z } from 'zod';
import type { AnyJobDefinition } from '../definitions/define-job.js';

/**
 * The global fan-out form of a workspace job, for its schedule: `{ fanOut: true, …shared fields }`
 * beside the per-item form (the 24 job names are fixed, so a fan-out is not a job of its own).
 * Declare the definition with `scope: 'global'` (so workspaceId stays optional in the payload),
 * every item field optional and `fanOut: z.literal(true).optional()`; this re-scopes it to
 * `workspace` and adds the check on both schemas and its JSON Schema (`anyOf`,
 * `dependentRequired`, `dependentSchemas`): without `fanOut` every item field is required (a
 * forgotten one is reported as missing, never read as a fan-out over every tenant); with it, none
 * is allowed.
 */
export interface FanOutForm {
  /** the fields naming one item, the selecting one first, then workspaceId and the rest */
  readonly itemFields: readonly [string, ...string[]];
  /** fields the per-item form requires that a fan-out may also carry (its slot) */
  readonly alsoRequired?: readonly string[];
  /** what a fan-out covers, for the refusal of an item field next to `fanOut` */
  readonly covers: string;
  readonly description: string;
}

const REQUIRED = 'Invalid input: expected string, received undefined';

export function withFanOutForm<D extends AnyJobDefinition>(definition: D, form: FanOutForm): D {
  const [key, ...rest] = form.itemFields;
  const check = (p: Record<string, unknown>, ctx: z.core.$RefinementCtx): void => {
    const fanOut = p.fanOut === true;
    for (const field of form.itemFields) {
      if (fanOut && p[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `not allowed with fanOut: true (${form.covers})` });
    }
    if (!fanOut) {
      for (const field of [...form.itemFields, ...(form.alsoRequired ?? [])]) {
        if (p[field] === undefined) ctx.addIssue({ code: 'invalid_type', expected: 'string', path: [field], message: REQUIRED });
      }
    }
  };
  // the check runs even when another field failed, so `{}` names the missing item fields too
  const always = { when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null };
  return Object.freeze({
    ...definition,
    scope: 'workspace',
    schema: definition.schema.superRefine(check, always),
    inputSchema: z
      .strictObject(definition.schema.shape)
      .superRefine(check, always)
      .meta({
        description: form.description,
        anyOf: [{ required: [key] }, { required: ['fanOut'] }],
        dependentRequired: Object.fromEntries(form.itemFields.map((f) => [f, f === key ? [...rest, ...(form.alsoRequired ?? [])] : [key]])),
        dependentSchemas: { fanOut: { not: { anyOf: form.itemFields.map((f) => ({ required: [f] })) } } },
      }),
  }) as D;
}
