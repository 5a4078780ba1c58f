import { createHash, randomUUID } from 'node:crypto';
import type Bull from 'bull';
import type { AnyJobDefinition } from '../definitions/define-job.js';
import { JobValidationError } from '../definitions/errors.js';
import { baseJobOptions } from '../definitions/job-options.js';
import { SIGNATURE_OPTION, type JobSecurity } from '../security/job-security.js';
import { repeatKeyOf, repeatRunIdPrefix } from '../security/job-binding.js';
import type { Schedule } from '../jobs/schedules.js';
import type { Logger } from '../observability/logger.js';
import { PRIORITIES } from '../definitions/priorities.js';
import { toFieldIssues } from '../definitions/validation.js';

/**
 * Reconciles a queue's repeatable jobs in Redis with the declared schedules (bull-v4.md §14).
 *
 * Bull keys a repeatable config by name, jobId, endDate, tz and cron, not by data: changing a cron
 * adds a second config while the old one keeps firing, and changed data would never reach Redis.
 * So every schedule gets the Bull job id `sched.<key>.<hash of cron, tz, data and options>`: any
 * change gives a new repeat key, and the old one is stale. The reconciler owns every repeatable
 * config of the queue:
 *   1. entries of `getRepeatableJobs()` not desired → `removeRepeatableByKey` (which deletes the
 *      armed run whose time matches the config), then any delayed run left with that config's id
 *      (an armed run of a different tick survives the Lua script);
 *   2. desired ones missing → `add` with `repeat` and the stable job id; a desired one whose armed
 *      run no longer verifies (signing key rotated away) is removed and added again.
 * Several replicas start at once: a short `SET NX PX` lock lets one reconcile while the others
 * skip, and every step is idempotent anyway (re-adding an identical config is a no-op because the
 * armed run's id is derived from the config and the tick).
 *
 * Repeatable jobs bypass the producer (`addBulk` ignores `repeat`, and slots and per-enqueue keys
 * do not apply) but get what every job needs: the job's Bull options (priority included: a queue
 * never mixes prioritized and unprioritized jobs) and the signature over the stored data.
 */
export interface ReconcileOptions {
  /** the Bull queue that holds the schedules: shard 0 of the queue */
  readonly queue: Bull.Queue;
  readonly schedules: readonly Schedule[];
  readonly security: JobSecurity;
  readonly logger?: Logger;
  /** lock time-to-live, ms (default 30 s) */
  readonly lockMs?: number;
}

export interface ReconcileResult {
  /** false when another replica held the lock and this one did nothing */
  readonly reconciled: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

export interface DesiredSchedule {
  readonly schedule: Schedule;
  readonly name: string;
  readonly jobId: string;
  /** Bull's repeat key: `name:jobId::tz:cron` */
  readonly repeatKey: string;
  readonly data: Record<string, unknown>;
  readonly opts: Bull.JobOptions;
}

const KEY_PATTERN = /^[a-z0-9][a-z0-9-]{0,79}$/;
const CRON_FIELD = /^[\d*,/-]+$/;

/** Throws when a schedule cannot be added: bad key, cron, tz or data (the job's schema). */
export function desiredSchedule(schedule: Schedule, security: JobSecurity): DesiredSchedule {
  const def: AnyJobDefinition = schedule.job;
  if (!KEY_PATTERN.test(schedule.key)) throw new TypeError(`schedule key "${schedule.key}" must match ${KEY_PATTERN}`);
  const fields = schedule.cron.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
    throw new TypeError(`schedule ${schedule.key}: "${schedule.cron}" is not a five-field cron expression`);
  }
  if (schedule.tz.includes(':')) throw new TypeError(`schedule ${schedule.key}: invalid time zone "${schedule.tz}"`);
  try {
    new Intl.DateTimeFormat('en', { timeZone: schedule.tz });
  } catch {
    throw new TypeError(`schedule ${schedule.key}: unknown time zone "${schedule.tz}"`);
  }
  const parsed = def.inputSchema.safeParse(schedule.data);
  if (!parsed.success) throw new JobValidationError(def.name, toFieldIssues(parsed.error, `schedule ${schedule.key}`));
  const payload = parsed.data;
  const base = baseJobOptions(def);
  const priority = schedule.priority ? PRIORITIES[schedule.priority] : base.priority;
  const cron = fields.join(' ');
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ cron, tz: schedule.tz, data: payload, priority, attempts: base.attempts, job: def.name }))
    .digest('hex')
    .slice(0, 12);
  const jobId = `sched.${schedule.key}.${fingerprint}`;
  const repeat = { cron, tz: schedule.tz };
  const opts: Bull.JobOptions = { ...base, priority, jobId, repeat: { ...repeat } };
  // Sensitive fields sealed and the stored data signed into opts; Bull copies opts into every run.
  const data = security.protect(def, payload, opts);
  return { schedule, name: def.name, jobId, repeatKey: repeatKeyOf(def.name, repeat, jobId), data, opts };
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export async function reconcileSchedules(options: ReconcileOptions): Promise<ReconcileResult> {
  const { queue, security, logger } = options;
  // Validate everything before touching Redis: a bad declaration changes nothing.
  const desired = options.schedules.map((s) => desiredSchedule(s, security));
  const keys = new Set<string>();
  for (const d of desired) {
    if (keys.has(d.schedule.key)) throw new TypeError(`schedule key "${d.schedule.key}" is declared twice`);
    keys.add(d.schedule.key);
  }
  await queue.isReady();
  const client = queue.client;
  const lockKey = queue.toKey('schedules-lock');
  const token = randomUUID();
  const got = await client.set(lockKey, token, 'PX', options.lockMs ?? 30_000, 'NX');
  if (got !== 'OK') {
    logger?.info('schedules: another replica is reconciling', { queue: queue.name });
    return { reconciled: false, added: [], removed: [], kept: [] };
  }
  try {
    const byKey = new Map(desired.map((d) => [d.repeatKey, d]));
    const existing = await queue.getRepeatableJobs();
    const present = new Set<string>();
    const removed: string[] = [];
    for (const entry of existing) {
      const want = byKey.get(entry.key);
      if (want && (await armedRunVerifies(queue, entry, security))) {
        present.add(entry.key);
        continue;
      }
      await removeConfig(queue, entry);
      removed.push(entry.id ?? entry.key);
    }
    const added: string[] = [];
    const kept: string[] = [];
    for (const d of desired) {
      if (present.has(d.repeatKey)) {
        kept.push(d.schedule.key);
        continue;
      }
      await queue.add(d.name, d.data, d.opts);
      added.push(d.schedule.key);
    }
    if (added.length > 0 || removed.length > 0) {
      logger?.info('schedules reconciled', { queue: queue.name, added, removed, kept: kept.length });
    }
    return { reconciled: true, added, removed, kept };
  } finally {
    await client.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
  }
}

type RepeatEntry = Awaited<ReturnType<Bull.Queue['getRepeatableJobs']>>[number];

/** Removes a repeat config and every delayed run it armed. */
async function removeConfig(queue: Bull.Queue, entry: RepeatEntry): Promise<void> {
  await queue.removeRepeatableByKey(entry.key);
  const prefix = repeatRunIdPrefix(entry.name, entry.id, entry.key);
  const delayedKey = queue.toKey('delayed');
  let cursor = '0';
  do {
    const [next, found] = await queue.client.zscan(delayedKey, cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
    cursor = next;
    for (let i = 0; i < found.length; i += 2) {
      const job = await queue.getJob(found[i]!);
      await job?.remove();
    }
  } while (cursor !== '0');
}

/** false when the config's armed run carries a signature this process no longer accepts. */
async function armedRunVerifies(queue: Bull.Queue, entry: RepeatEntry, security: JobSecurity): Promise<boolean> {
  const job = await queue.getJob(`${repeatRunIdPrefix(entry.name, entry.id, entry.key)}${entry.next}`);
  if (!job) return true; // already promoted or running: the next run is armed from it
  try {
    security.verify(entry.name, job.data, (job.opts as Record<string, unknown>)[SIGNATURE_OPTION], job);
    return true;
  } catch {
    return false;
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Schedule key of a Bull repeat job id made by `desiredSchedule` (`sched.<key>.<hash>`), else undefined. */
export function scheduleKeyOf(jobId: string | null | undefined): string | undefined {
  const m = /^sched\.([a-z0-9-]+)\.[0-9a-f]{12}$/.exec(jobId ?? '');
  return m?.[1];
}
