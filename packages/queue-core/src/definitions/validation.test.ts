import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { toFieldIssues } from './validation.js';

describe('toFieldIssues', () => {
  const schema = z.strictObject({ workspaceId: z.uuid(), campaignId: z.string(), items: z.array(z.object({ n: z.number() })) });
  const issues = (data: unknown, prefix?: string) => {
    const parsed = schema.safeParse(data);
    if (parsed.success) throw new Error('expected a validation error');
    return toFieldIssues(parsed.error, prefix);
  };

  it('says "required" only for a missing field, and names the type for a wrong one', () => {
    expect(issues({ campaignId: 3, items: [] })).toEqual([
      { path: 'workspaceId', message: 'required' },
      { path: 'campaignId', message: 'Invalid input: expected string, received number' },
    ]);
  });

  it('names nested paths, unknown fields and the bulk item prefix', () => {
    const wsId = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';
    expect(issues({ workspaceId: wsId, campaignId: 'c', items: [{ n: 1 }, {}], extra: 1 }, '[4]')).toEqual([
      { path: '[4].items[1].n', message: 'required' },
      { path: '[4]', message: 'unknown field(s): extra' },
    ]);
    expect(issues('nope')).toEqual([{ path: '(root)', message: 'Invalid input: expected object, received string' }]);
  });
});
