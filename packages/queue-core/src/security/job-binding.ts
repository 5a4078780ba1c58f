import { createHash } from 'node:crypto';

/**
 * What a job signature binds besides the job's name, workspace and data: the job id and the Bull
 * options that change what a job does (attempts, delay, priority, and for a schedule its repeat
 * rule). A signed job copied under a new id, or stored again with `attempts` raised, a delay
 * removed or a priority changed, no longer verifies.
 *
 * The producer signs the options it passes to Bull; the worker rebuilds the same text from the job
 * Bull gives back, after Bull's own defaults (`attempts` 1, `delay` 0). Both sides go through
 * `bindingText`, so they cannot drift apart.
 *
 * Runs of a schedule (Bull repeat jobs) get their id and delay from Bull at each run
 * (`repeat:<md5>:<millis>`, repeatable.js), so for them the binding is the schedule's own id and
 * rule, and the run's id must be one of that schedule's run ids (`repeatRunIdPrefix`). A run id
 * moved to another millisecond of the same schedule is not caught; the schedule itself is.
 */

/** The Bull options a signature covers, as the producer passes them or Bull stores them. */
export interface BindableOptions {
  readonly jobId?: string | number | undefined;
  readonly attempts?: number | string | undefined;
  readonly delay?: number | string | undefined;
  readonly priority?: number | undefined;
  readonly repeat?: RepeatRule | undefined;
}

/** The parts of Bull's repeat options that define a schedule (Bull adds `count`, `key` per run). */
export interface RepeatRule {
  readonly cron?: string | undefined;
  readonly tz?: string | undefined;
  readonly every?: number | undefined;
  readonly endDate?: string | number | Date | undefined;
  /** set by Bull to the schedule's `jobId` when the schedule is first added */
  readonly jobId?: string | undefined;
}

/** The binding of options about to be added (producer, schedules, replays). */
export function enqueueBinding(opts: BindableOptions): string {
  // Bull copies the schedule's jobId into `repeat.jobId` on the first add (repeatable.js)
  return opts.repeat ? repeatBinding(opts.repeat, opts.jobId, opts) : bindingText(opts.jobId, opts);
}

/**
 * The binding of a job as Bull stored it, or undefined when its id cannot belong to what it claims
 * (a repeat run under an id that is not one of its schedule's run ids).
 */
export function storedBinding(name: string, id: string | number | undefined, opts: BindableOptions): string | undefined {
  const repeat = opts.repeat;
  if (!repeat) return bindingText(id, opts);
  if (id === undefined || !String(id).startsWith(repeatRunIdPrefix(name, repeat.jobId, repeatKeyOf(name, repeat, repeat.jobId)))) return undefined;
  return repeatBinding(repeat, repeat.jobId, opts);
}

function bindingText(id: string | number | undefined, opts: BindableOptions): string {
  // Bull's defaults (job.js setDefaultOpts), so the producer's text equals the worker's
  return `job ${id ?? ''} ${opts.attempts ?? 1} ${opts.delay ?? 0} ${opts.priority ?? 0}`;
}

function repeatBinding(repeat: RepeatRule, scheduleId: string | number | undefined, opts: BindableOptions): string {
  return `repeat ${scheduleId ?? ''} ${repeat.cron ?? ''} ${repeat.tz ?? ''} ${repeat.every ?? ''} ${endDateOf(repeat) ?? ''} ${opts.attempts ?? 1} ${opts.priority ?? 0}`;
}

function endDateOf(repeat: RepeatRule): number | undefined {
  return repeat.endDate === undefined ? undefined : new Date(repeat.endDate).getTime();
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** Bull's key of a repeat config (repeatable.js `getRepeatKey`). */
export function repeatKeyOf(name: string, repeat: RepeatRule, scheduleId: string | number | undefined): string {
  const end = endDateOf(repeat);
  const suffix = repeat.cron ? `${repeat.tz ? `${repeat.tz}:` : ':'}${repeat.cron}` : String(repeat.every);
  return `${name}:${scheduleId ? `${scheduleId}:` : ':'}${end !== undefined ? `${end}:` : ':'}${suffix}`;
}

/** Prefix of the ids of every run of one repeat config (Bull repeatable.js `getRepeatJobId`). */
export function repeatRunIdPrefix(name: string, scheduleId: string | number | null | undefined, repeatKey: string): string {
  return `repeat:${md5(`${name}${scheduleId ? `${scheduleId}:` : ':'}${md5(repeatKey)}`)}:`;
}
