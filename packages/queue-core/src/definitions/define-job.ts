import { z } from 'zod';
import type { Priority } from './priorities.js';
import type { QueueName } from './queues.js';

/**
 * One definition per job, imported by both the producer and the worker (code-style.md §4).
 *
 * Schemas are JSON-shaped: no transforms, dates as ISO strings, because the parsed value is stored
 * in Redis and parsed again by the worker. The worker's schema strips unknown keys so that a
 * producer deployed before a worker can add an optional field; the producer's schema is strict so
 * that a typo in a field name is an error instead of silently lost data.
 */

/** Fields every job may carry. */
export const traceFields = {
  /** user id, or `system` for scheduled work */
  requestedBy: z.string().min(1).max(200).optional(),
  /** correlation id propagated from the web request that caused the job */
  traceId: z.string().min(1).max(200).optional(),
};

/** Fields of every job that acts for one workspace (domain.md §8: the tenancy guard). */
export const workspaceFields = {
  workspaceId: z.uuid(),
  ...traceFields,
};

export type JobScope = 'workspace' | 'global';

export interface JobOptionsOverride {
  readonly attempts?: number;
  /** default priority of this job type; callers may override per enqueue */
  readonly priority?: Priority;
  /** time budget of one attempt, ms */
  readonly timeoutMs?: number;
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
}

export interface JobDefinition<N extends string = string, Q extends QueueName = QueueName, S extends z.ZodObject = z.ZodObject> {
  /** Wire name stored in Redis: never rename one that has shipped. */
  readonly name: N;
  readonly queue: Q;
  readonly description: string;
  /** `workspace`: the payload carries `workspaceId` and every read and write is scoped by it. */
  readonly scope: JobScope;
  /** Worker-side schema (strips unknown keys). */
  readonly schema: S;
  /** Producer-side schema (rejects unknown keys). */
  readonly inputSchema: z.ZodType<z.output<S>, z.input<S>>;
  /**
   * Deterministic idempotency key from the payload: becomes the Bull job id so that enqueueing the
   * same logical job twice while the first is still known to Redis is a no-op. The durable guard
   * is the database constraint named in domain.md §5.
   */
  // Method syntax on purpose: parameters of methods are bivariant, so every definition is
  // assignable to AnyJobDefinition.
  idempotencyKey?(payload: z.output<S>): ReadonlyArray<string | number | boolean>;
  readonly options: JobOptionsOverride;
  /**
   * String fields (top-level, or `list[].field` in every element of an array) encrypted by the producer and decrypted by the worker just before the
   * handler (job-security.ts): never in clear text in Redis, logs, the dashboard or dead letters.
   */
  readonly sensitive: readonly string[];
}

export type AnyJobDefinition = JobDefinition<string, QueueName, z.ZodObject>;
/** What a producer passes (fields with defaults are optional). */
export type JobInput<J extends AnyJobDefinition> = z.input<J['schema']>;
/** What a handler receives (defaults applied). */
export type JobPayload<J extends AnyJobDefinition> = z.output<J['schema']>;

/** Keys of T whose values are strings (possibly optional). */
export type StringFieldOf<T> = { [K in keyof T]-?: NonNullable<T[K]> extends string ? K : never }[keyof T] & string;
/**
 * Paths to strings one level down in T: `list[]` (an array of strings), `list[].field` (a string
 * field of the elements of an array of objects), `object.field` (e.g. `inputData.email`).
 */
export type NestedStringFieldOf<T> = {
  [K in keyof T & string]-?: NonNullable<T[K]> extends ReadonlyArray<infer E>
    ? NonNullable<E> extends string
      ? `${K}[]`
      : NonNullable<E> extends object
        ? `${K}[].${StringFieldOf<NonNullable<E>>}`
        : never
    : NonNullable<T[K]> extends object
      ? `${K}.${StringFieldOf<NonNullable<T[K]>>}`
      : never;
}[keyof T & string];

type WorkspaceShape = typeof workspaceFields;
type TraceShape = typeof traceFields;

interface DefineJobArgs<N extends string, Q extends QueueName, Sc extends JobScope, P extends z.ZodRawShape> {
  name: N;
  queue: Q;
  description: string;
  scope: Sc;
  /** The job's own fields; `workspaceId`, `requestedBy` and `traceId` are added by scope. */
  payload: P;
  idempotencyKey?: (payload: z.output<z.ZodObject<(Sc extends 'workspace' ? WorkspaceShape : TraceShape) & P>>) => ReadonlyArray<string | number | boolean>;
  options?: JobOptionsOverride;
  /**
   * secrets a workspace gave us (OAuth tokens, API keys) and what leads wrote (reply content):
   * encrypted end to end; top-level strings, or one level down: `object.field`, `list[]`,
   * `list[].field`
   */
  sensitive?: ReadonlyArray<StringFieldOf<z.output<z.ZodObject<P>>> | NestedStringFieldOf<z.output<z.ZodObject<P>>>>;
}

export function defineJob<const N extends string, Q extends QueueName, Sc extends JobScope, P extends z.ZodRawShape>(
  args: DefineJobArgs<N, Q, Sc, P>,
): JobDefinition<N, Q, z.ZodObject<(Sc extends 'workspace' ? WorkspaceShape : TraceShape) & P>> {
  const base = args.scope === 'workspace' ? workspaceFields : traceFields;
  const shape = { ...base, ...args.payload } as (Sc extends 'workspace' ? WorkspaceShape : TraceShape) & P;
  type Shape = (Sc extends 'workspace' ? WorkspaceShape : TraceShape) & P;
  const schema = z.object(shape) as unknown as z.ZodObject<Shape>;
  return Object.freeze({
    name: args.name,
    queue: args.queue,
    description: args.description,
    scope: args.scope,
    schema,
    inputSchema: z.strictObject(shape) as unknown as z.ZodType<z.output<typeof schema>, z.input<typeof schema>>,
    idempotencyKey: args.idempotencyKey,
    options: Object.freeze({ ...args.options }),
    sensitive: Object.freeze([...(args.sensitive ?? [])]),
  });
}

/** JSON Schema (draft 2020-12) of what a producer may send. */
export function jobInputJsonSchema(def: AnyJobDefinition): Record<string, unknown> {
  return z.toJSONSchema(def.inputSchema, { io: 'input' });
}
