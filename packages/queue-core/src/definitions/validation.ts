import type { z } from 'zod';
import type { FieldIssue } from './errors.js';

/** Zod issues as `path: message` pairs, with an optional prefix such as `[3]` for bulk items. */
export function toFieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
      .join('.')
      .replace(/\.\[/g, '[');
    const full = prefix ? (path ? `${prefix}.${path}` : prefix) : path || '(root)';
    return { path: full, message: describe(issue) };
  });
}

function describe(issue: z.core.$ZodIssue): string {
  // zod 4 leaves the input off its issues (unless asked to report it, which would copy secrets
  // into errors); a missing field is the invalid_type issue that received undefined.
  if (issue.code === 'invalid_type' && issue.message.endsWith('received undefined')) return 'required';
  if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
  return issue.message;
}
