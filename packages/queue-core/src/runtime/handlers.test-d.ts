/**
 * Type tests (vitest typecheck, `types` project): what the compiler must accept and refuse for
 * `JobInput` (the producer's side of a job definition) and `HandlersFor` (a worker's handler map).
 * An `@ts-expect-error` that finds no error is itself an error, so each refusal below is checked.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { JobInput, JobPayload } from '../definitions/define-job.js';
import type { backupData, cleanupOldData, JobsOn, optimizeImages } from '../jobs/index.js';
import type { Handler, HandlersFor, JobContext } from './job-context.js';

describe('JobInput', () => {
  it('makes fields with defaults optional for the producer and required for the handler', () => {
    expectTypeOf<JobInput<typeof cleanupOldData>>().toHaveProperty('dryRun').toEqualTypeOf<boolean | undefined>();
    expectTypeOf<JobPayload<typeof cleanupOldData>>().toHaveProperty('dryRun').toEqualTypeOf<boolean>();
    expectTypeOf<{ kind: 'full' }>().toExtend<JobInput<typeof backupData>>();
    expectTypeOf<{ kind: 'full' }>().not.toExtend<JobPayload<typeof backupData>>();
  });

  it('types enums and required fields, and carries the workspace of a workspace-scoped job', () => {
    expectTypeOf<JobInput<typeof backupData>['kind']>().toEqualTypeOf<'full' | 'schema' | 'verify'>();
    expectTypeOf<JobInput<typeof optimizeImages>>().toHaveProperty('workspaceId').toEqualTypeOf<string>();
    // @ts-expect-error: not one of the kinds
    const wrongKind: JobInput<typeof backupData> = { kind: 'incremental' };
    // @ts-expect-error: `kind` is required
    const missingKind: JobInput<typeof backupData> = {};
    // @ts-expect-error: batchSize is a number
    const wrongType: JobInput<typeof cleanupOldData> = { batchSize: '10' };
    // @ts-expect-error: a workspace-scoped job needs its workspaceId
    const noWorkspace: JobInput<typeof optimizeImages> = { uploadId: 'u', bucket: 'b', key: 'k', fileType: 'logo' };
    void [wrongKind, missingKind, wrongType, noWorkspace];
  });
});

describe('HandlersFor', () => {
  type Deps = { readonly now: () => Date };
  const ok = async () => ({});

  it('has exactly one key per job of the queue, each a handler of that job', () => {
    expectTypeOf<keyof HandlersFor<'maintenance', Deps>>().toEqualTypeOf<JobsOn<'maintenance'>['name']>();
    expectTypeOf<HandlersFor<'maintenance', Deps>['backup-data']>().toEqualTypeOf<Handler<typeof backupData, Deps>>();
    expectTypeOf<Parameters<HandlersFor<'maintenance', Deps>['cleanup-old-data']>>().toEqualTypeOf<[JobPayload<typeof cleanupOldData>, JobContext<Deps>]>();
  });

  it('accepts a complete map whose handlers read their own payload and deps', () => {
    const handlers: HandlersFor<'maintenance', Deps> = {
      'cleanup-old-data': async (payload, ctx) => ({ batch: payload.batchSize + 1, at: ctx.deps.now() }),
      'optimize-images': async (payload) => payload.workspaceId,
      'backup-data': async (payload) => payload.kind,
      'cache-warming': ok,
    };
    expectTypeOf(handlers).toEqualTypeOf<HandlersFor<'maintenance', Deps>>();
  });

  it('refuses a missing handler, a handler of another queue, a wrong payload field and wrong deps', () => {
    // @ts-expect-error: cache-warming has no handler
    const missing: HandlersFor<'maintenance', Deps> = { 'cleanup-old-data': ok, 'optimize-images': ok, 'backup-data': ok };
    const extra: HandlersFor<'maintenance', Deps> = {
      'cleanup-old-data': ok,
      'optimize-images': ok,
      'backup-data': ok,
      'cache-warming': ok,
      // @ts-expect-error: send-email is on the email queue
      'send-email': ok,
    };
    const wrongField: HandlersFor<'maintenance', Deps> = {
      // @ts-expect-error: backup-data's payload has no uploadId
      'backup-data': async (payload) => payload.uploadId,
      'cleanup-old-data': ok,
      'optimize-images': ok,
      'cache-warming': ok,
    };
    const wrongDeps: HandlersFor<'maintenance', Deps> = {
      // @ts-expect-error: the deps have no pool
      'cleanup-old-data': async (_payload, ctx) => ctx.deps.pool,
      'optimize-images': ok,
      'backup-data': ok,
      'cache-warming': ok,
    };
    void [missing, extra, wrongField, wrongDeps];
  });
});
