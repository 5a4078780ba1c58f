import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AnyJobDefinition } from '../definitions/define-job.js';
import { ConfigError, CorruptJobError, FieldDecryptionError, JobSignatureError } from '../definitions/errors.js';
import { HmacSha256 } from './hmac-sha256.js';
import { type BindableOptions, enqueueBinding, storedBinding } from './job-binding.js';
import { parseKeyRing, type KeyRing } from './security-keys.js';

/**
 * Signed jobs and encrypted fields, CPU only (a few µs per job, docs/benchmarks.md).
 *
 * Signature. The producer signs what Bull stores: HMAC-SHA256 over
 * `v2 \n name \n workspaceId \n timestamp \n binding \n JSON.stringify(data)`, where the binding
 * is the job id and the options that change behaviour (attempts, delay, priority, a schedule's
 * repeat rule; job-binding.ts), and keeps `v2.<kid>.<timestamp>.<mac>` in the job's options
 * (`opts.signature`, persisted by Bull in the job hash) rather than in the data, so handlers never
 * see it and the data needs no copy to strip it. A signed job always has an explicit id (`protect`
 * gives one to a job without an idempotency key), so a copy under another id does not verify.
 * `v1` signatures (no binding) are refused as `outdated`.
 * The producer stores the very text it signed; the worker verifies the text Bull read from Redis
 * (`job.storedData`, kept by our Bull patch), or `JSON.stringify(job.data)` for a job object
 * without it, which gives the same text (key order survives a round trip, numbers and strings have
 * one JSON.stringify form). Any later write to the data (a hand edit, `job.update()`) invalidates
 * the signature. The timestamp records when the job was signed; it is not an expiry (jobs may wait
 * for days, repeatable runs reuse it).
 *
 * Encrypted fields. A definition's `sensitive` fields (strings at a path: `content`,
 * `inputData.email`, `emails[]`, `messages[].content`) are replaced after validation by
 * `enc:v1:<kid>:<iv>:<tag>:<ciphertext>` (base64url, AES-256-GCM, random 96-bit IV, AAD =
 * job name, workspaceId and field name, so a value cannot be moved to another job, workspace or
 * field). Redis, logs, the dashboard and the dead-letter store only ever hold the envelope.
 */

/** Bull job option that carries the signature. */
export const SIGNATURE_OPTION = 'signature';
const ENVELOPE_PREFIX = 'enc:v1:';

export interface JobSecurityOptions {
  /** `kid:base64,oldkid:base64` or a parsed ring; required unless `signing: 'disabled'` */
  readonly signingKeys?: string | KeyRing;
  /** `kid:base64` with 32-byte keys; needed only by processes that touch sensitive fields */
  readonly encryptionKeys?: string | KeyRing;
  /** unsigned mode, for development and tests only; never in production */
  readonly signing?: 'enabled' | 'disabled';
  /** clock for the signature timestamp (tests) */
  readonly now?: () => number;
}

const SIGNING_RULES = { minBytes: 32 };
const ENCRYPTION_RULES = { exactBytes: 32 };

export class JobSecurity {
  /** false in unsigned mode */
  readonly signing: boolean;
  private readonly signingRing: KeyRing | undefined;
  /** HMAC-SHA256 under each signing key, by key id */
  private readonly macs: ReadonlyMap<string, HmacSha256>;
  private readonly encryptionRing: KeyRing | undefined;
  private readonly now: () => number;

  constructor(options: JobSecurityOptions) {
    this.signing = options.signing !== 'disabled';
    this.now = options.now ?? Date.now;
    const signingKeys = options.signingKeys;
    this.signingRing = typeof signingKeys === 'string' ? parseKeyRing('JOB_SIGNING_KEYS', signingKeys, SIGNING_RULES) : signingKeys;
    if (this.signing && !this.signingRing) {
      throw new ConfigError('JOB_SIGNING_KEYS is not set: jobs must be signed (JOB_SIGNING=disabled allows unsigned mode outside production)');
    }
    this.macs = new Map([...(this.signingRing?.keys ?? [])].map(([kid, key]) => [kid, new HmacSha256(key)]));
    const encryptionKeys = options.encryptionKeys;
    this.encryptionRing = typeof encryptionKeys === 'string' ? parseKeyRing('JOB_ENCRYPTION_KEYS', encryptionKeys, ENCRYPTION_RULES) : encryptionKeys;
  }

  /** true when sensitive fields can be encrypted and decrypted */
  get encryption(): boolean {
    return this.encryptionRing !== undefined;
  }

  /**
   * The signature of a job as it will be stored, over its name, data, id and behaviour options
   * (`opts` as they are passed to Bull); undefined in unsigned mode.
   */
  sign(name: string, data: unknown, opts: BindableOptions): string | undefined {
    return this.signer()?.(name, data, opts);
  }

  /**
   * `sign` for a batch of jobs (enqueueBulk): the key, the timestamp and the signature's prefix are
   * looked up once, so every job signed through it carries the same timestamp. Undefined in
   * unsigned mode.
   */
  signer(): JobSigner | undefined {
    const ring = this.signingRing;
    if (!this.signing || !ring) return undefined;
    const ts = this.now();
    const mac = this.macs.get(ring.currentId)!;
    const prefix = `v2.${ring.currentId}.${ts}.`;
    const tsText = String(ts);
    return (name, data, opts, json = JSON.stringify(data)) => prefix + mac.base64url(signedText(name, data, tsText, enqueueBinding(opts), json));
  }

  /**
   * Throws JobSignatureError unless `signature` was made by one of our keys over this name and data
   * and the job's id and options as Bull stored them (`job`: its `id` and `opts`, and `storedData`,
   * the data's text as read from Redis, when the job has it).
   */
  verify(name: string, data: unknown, signature: unknown, job: StoredJob): void {
    if (!this.signing) return;
    if (typeof signature !== 'string' || signature === '') throw new JobSignatureError(name, 'missing');
    // `v2.<kid>.<ts>.<mac>`, read in place (no regular expression, no copy of the key id or the
    // MAC): this runs once per job (docs/benchmarks.md)
    const a = signature.indexOf('.');
    const b = signature.indexOf('.', a + 1);
    const c = signature.indexOf('.', b + 1);
    if (a !== 2 || b < 0 || c < 0 || signature.indexOf('.', c + 1) !== -1 || !isDigits(signature, b + 1, c, 16)) {
      throw new JobSignatureError(name, 'malformed');
    }
    if (!signature.startsWith('v2.')) throw new JobSignatureError(name, signature.startsWith('v1.') ? 'outdated' : 'malformed');
    const mac = this.macOf(signature, a + 1, b);
    if (!mac) throw new JobSignatureError(name, 'unknown-key');
    const binding = storedBinding(name, job.id, job.opts as BindableOptions);
    if (binding === undefined) throw new JobSignatureError(name, 'mismatch');
    const json = typeof job.storedData === 'string' ? job.storedData : JSON.stringify(data);
    const expected = mac.base64url(signedText(name, data, signature.slice(b + 1, c), binding, json));
    if (!equalsAt(expected, signature, c + 1)) throw new JobSignatureError(name, 'mismatch');
  }

  /** The MAC of the key whose id is `signature[from, to)`: the current key without copying the id. */
  private macOf(signature: string, from: number, to: number): HmacSha256 | undefined {
    const current = this.signingRing!.currentId;
    if (to - from === current.length && signature.startsWith(current, from)) return this.macs.get(current);
    return this.macs.get(signature.slice(from, to));
  }

  /**
   * What the producer stores for a validated payload: sensitive fields encrypted. Returns the
   * payload itself when the definition has none.
   */
  seal(def: AnyJobDefinition, payload: Record<string, unknown>): Record<string, unknown> {
    if (def.sensitive.length === 0) return payload;
    return mapSensitive(def, payload, (value, field) => {
      if (typeof value !== 'string') throw new TypeError(`sensitive field ${field} of job ${def.name} must be a string`);
      const ring = this.encryptionRing;
      if (!ring) throw new ConfigError(`JOB_ENCRYPTION_KEYS is not set: job ${def.name} has sensitive field ${field}`);
      return encryptField(ring, value, aad(def.name, payload, field));
    });
  }

  /** The payload a handler may see: sensitive fields decrypted (a copy; `job.data` keeps the envelopes). */
  open(def: AnyJobDefinition, data: unknown): unknown {
    if (def.sensitive.length === 0 || data === null || typeof data !== 'object') return data;
    const stored = data as Record<string, unknown>;
    return mapSensitive(def, stored, (value, field) => {
      if (typeof value !== 'string' || !value.startsWith(ENVELOPE_PREFIX)) {
        throw new FieldDecryptionError(def.name, field, 'not encrypted (clear text is never accepted for a sensitive field)');
      }
      if (!this.encryptionRing) throw new FieldDecryptionError(def.name, field, 'JOB_ENCRYPTION_KEYS is not set in this worker');
      return decryptField(this.encryptionRing, value, aad(def.name, stored, field), def.name, field);
    });
  }

  /**
   * Producer side in one call: seals the payload, gives a job without an id a random one (so that
   * the signature can bind it), signs what will be stored and puts the signature into `opts`.
   * Returns the data to store. A batch passes one `signer()` for all its jobs.
   */
  protect(
    def: AnyJobDefinition,
    payload: Record<string, unknown>,
    opts: BindableOptions,
    signer: JobSigner | undefined = this.signer(),
  ): Record<string, unknown> {
    return this.protectStored(def, payload, opts, signer).data;
  }

  /**
   * `protect`, also returning the data's JSON text (`JSON.stringify(data)`, what Bull stores and
   * what the signature covers), so that the producer stores the text it signed instead of
   * stringifying the data a second time.
   */
  protectStored(
    def: AnyJobDefinition,
    payload: Record<string, unknown>,
    opts: BindableOptions,
    signer: JobSigner | undefined = this.signer(),
  ): { readonly data: Record<string, unknown>; readonly json: string } {
    const data = this.seal(def, payload);
    const json = JSON.stringify(data);
    const o = opts as { jobId?: string | number; [SIGNATURE_OPTION]?: string };
    if (o.jobId === undefined && !opts.repeat) o.jobId = randomUUID();
    if (signer !== undefined) o[SIGNATURE_OPTION] = signer(def.name, data, opts, json);
    return { data, json };
  }

  /**
   * Worker side in one call, before schema validation: verifies the signature in `opts`, then
   * decrypts. Throws a permanent error (JobSignatureError, FieldDecryptionError).
   */
  admit(def: AnyJobDefinition, job: StoredJob & { readonly data: unknown; readonly corrupt?: StoredCorruption }): unknown {
    if (job.corrupt) throw new CorruptJobError(def.name, job.corrupt.field, job.corrupt.message);
    this.verify(def.name, job.data, (job.opts as Record<string, unknown>)[SIGNATURE_OPTION], job);
    return this.open(def, job.data);
  }
}

/** What `verify` reads of a stored job besides its name, data and signature. */
export interface StoredJob {
  readonly id?: string | number | undefined;
  readonly opts: object;
  /** the data's JSON text as Bull read it from Redis (patches/bull@4.16.5.patch) */
  readonly storedData?: unknown;
}

/** Signs one job of a batch: `JobSecurity.signer()`; `json` is `JSON.stringify(data)` when the caller has it. */
export type JobSigner = (name: string, data: unknown, opts: BindableOptions, json?: string) => string;

/**
 * What our Bull patch (patches/bull@4.16.5.patch) puts on a job whose stored `data` or `opts` is
 * not valid JSON, instead of throwing from `Job.fromJSON`: which field, the parse error, and both
 * fields as stored, so the job can be dead-lettered whole.
 */
export interface StoredCorruption {
  readonly field: 'data' | 'opts';
  readonly message: string;
  readonly stored: { readonly data?: string; readonly opts?: string };
}

/** The corruption our Bull patch recorded on a job, if any. */
export function corruptionOf(job: object): StoredCorruption | undefined {
  return (job as { corrupt?: StoredCorruption }).corrupt;
}

/**
 * Whether `text` from `offset` to its end is `expected` (a MAC in base64url), compared without an
 * early exit (no timing hint about how much of a forged MAC is right); comparing the strings saves
 * decoding them into Buffers for timingSafeEqual, and comparing in place saves copying the MAC out.
 */
function equalsAt(expected: string, text: string, offset: number): boolean {
  if (text.length - offset !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ text.charCodeAt(offset + i);
  return diff === 0;
}

/** Whether `text[from, to)` is 1 to `max` ASCII digits. */
function isDigits(text: string, from: number, to: number, max: number): boolean {
  if (to <= from || to - from > max) return false;
  for (let i = from; i < to; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

function workspaceOf(data: unknown): string {
  const ws = (data as { workspaceId?: unknown } | null)?.workspaceId;
  return typeof ws === 'string' ? ws : '';
}

/** `json` is `JSON.stringify(data)` (the producer has it already). */
function signedText(name: string, data: unknown, ts: string, binding: string, json: string): string {
  return `v2\n${name}\n${workspaceOf(data)}\n${ts}\n${binding}\n${json}`;
}

/**
 * A copy of `data` with every sensitive value replaced by `fn(value, field)`, or `data` itself when
 * none is present. A path names a top-level field (`content`), a field of an object
 * (`inputData.email`), every element of an array (`emails[]`) or a field of every element
 * (`messages[].content`); elements are named by index in the AAD and in errors
 * (`messages[3].content`), so an envelope cannot move to another element either.
 */
function mapSensitive(def: AnyJobDefinition, data: Record<string, unknown>, fn: (value: unknown, field: string) => string): Record<string, unknown> {
  let out = data;
  for (const path of def.sensitive) {
    const segments = path.split('.').flatMap((part) => (part.endsWith('[]') ? [part.slice(0, -2), '[]'] : [part]));
    out = mapPath(out, segments, '', fn) as Record<string, unknown>;
  }
  return out;
}

function mapPath(value: unknown, segments: readonly string[], label: string, fn: (value: unknown, field: string) => string): unknown {
  if (value === undefined || value === null) return value;
  if (segments.length === 0) return fn(value, label);
  const [head, ...rest] = segments as [string, ...string[]];
  if (head === '[]') {
    if (!Array.isArray(value)) return value;
    let changed = false;
    const mapped = value.map((item: unknown, i) => {
      const next = mapPath(item, rest, `${label}[${i}]`, fn);
      if (next !== item) changed = true;
      return next;
    });
    return changed ? mapped : value;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const current = obj[head];
  const next = mapPath(current, rest, label ? `${label}.${head}` : head, fn);
  return next === current ? value : { ...obj, [head]: next };
}

function aad(name: string, data: unknown, field: string): Buffer {
  return Buffer.from(`${name}\n${workspaceOf(data)}\n${field}`);
}

export function encryptField(ring: KeyRing, plaintext: string, additional: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', ring.keyObjects.get(ring.currentId)!, iv);
  cipher.setAAD(additional);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${ENVELOPE_PREFIX}${ring.currentId}:${iv.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
}

export interface Envelope {
  readonly kid: string;
  readonly iv: Buffer;
  readonly tag: Buffer;
  readonly ciphertext: Buffer;
}

/** Parses `enc:v1:<kid>:<iv>:<tag>:<ct>`; undefined when the text is not an envelope. */
export function parseEnvelope(text: string): Envelope | undefined {
  if (!text.startsWith(ENVELOPE_PREFIX)) return undefined;
  const parts = text.slice(ENVELOPE_PREFIX.length).split(':');
  if (parts.length !== 4) return undefined;
  const [kid, iv, tag, ct] = parts as [string, string, string, string];
  const b64 = /^[A-Za-z0-9_-]*$/;
  if (!kid || !b64.test(iv) || !b64.test(tag) || !b64.test(ct)) return undefined;
  const envelope = { kid, iv: Buffer.from(iv, 'base64url'), tag: Buffer.from(tag, 'base64url'), ciphertext: Buffer.from(ct, 'base64url') };
  if (envelope.iv.length !== 12 || envelope.tag.length !== 16) return undefined;
  return envelope;
}

export function decryptField(ring: KeyRing, text: string, additional: Buffer, jobName = '?', field = '?'): string {
  const envelope = parseEnvelope(text);
  if (!envelope) throw new FieldDecryptionError(jobName, field, 'malformed envelope');
  const key = ring.keyObjects.get(envelope.kid);
  if (!key) throw new FieldDecryptionError(jobName, field, `unknown key id "${envelope.kid}"`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, envelope.iv);
    decipher.setAAD(additional);
    decipher.setAuthTag(envelope.tag);
    return Buffer.concat([decipher.update(envelope.ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new FieldDecryptionError(jobName, field, 'authentication failed (wrong key or altered ciphertext)');
  }
}

/** The security variables; parsed apart from the app schema so that secrets never reach zod messages. */
export const securityEnvSchema = z.object({
  NODE_ENV: z.string().optional(),
  JOB_SIGNING: z.enum(['enabled', 'disabled']).default('enabled'),
  JOB_SIGNING_KEYS: z.string().optional(),
  JOB_ENCRYPTION_KEYS: z.string().optional(),
});

let warnedUnsigned = false;
const stderrWarn = (message: string) => {
  if (warnedUnsigned) return;
  warnedUnsigned = true;
  process.stderr.write(`WARNING: ${message}\n`);
};

export const UNSIGNED_WARNING =
  'JOB_SIGNING=disabled: jobs are neither signed nor verified; anyone who can write to Redis can run any job. Never use this in production.';

/**
 * JobSecurity from `JOB_SIGNING_KEYS`, `JOB_ENCRYPTION_KEYS`, `JOB_SIGNING` and `NODE_ENV`.
 * Throws ConfigError when signing keys are missing (unless `JOB_SIGNING=disabled`, which is refused
 * with `NODE_ENV=production`); unsigned mode prints a warning through `warn`.
 */
export function jobSecurityFromEnv(source: Record<string, string | undefined> = process.env, warn: (message: string) => void = stderrWarn): JobSecurity {
  const parsed = securityEnvSchema.safeParse(
    Object.fromEntries(Object.entries(source).filter(([k, v]) => k in securityEnvSchema.shape && v !== undefined && v !== '')),
  );
  if (!parsed.success) throw new ConfigError(`invalid environment:\n${z.prettifyError(parsed.error)}`);
  return jobSecurityFromConfig(parsed.data, warn);
}

/** JobSecurity from already parsed variables (a worker app's one env parse, env.ts `signingEnv`). */
export function jobSecurityFromConfig(
  env: { NODE_ENV?: string | undefined; JOB_SIGNING: 'enabled' | 'disabled'; JOB_SIGNING_KEYS?: string | undefined; JOB_ENCRYPTION_KEYS?: string | undefined },
  warn: (message: string) => void = stderrWarn,
): JobSecurity {
  if (env.JOB_SIGNING === 'disabled') {
    if (env.NODE_ENV === 'production') throw new ConfigError('JOB_SIGNING=disabled is refused when NODE_ENV=production: set JOB_SIGNING_KEYS');
    warn(UNSIGNED_WARNING);
  }
  return new JobSecurity({ signing: env.JOB_SIGNING, signingKeys: env.JOB_SIGNING_KEYS, encryptionKeys: env.JOB_ENCRYPTION_KEYS });
}
