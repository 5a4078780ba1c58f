/**
 * Semantic priorities mapped onto Bull v4, where 1 is the HIGHEST priority and larger numbers run
 * later. Jobs without a priority run after every prioritized job in Bull v4, so the producer gives
 * every job a priority (default `normal`): a queue never mixes prioritized and unprioritized jobs.
 */
export const PRIORITIES = {
  critical: 1,
  high: 5,
  normal: 10,
  low: 20,
  background: 50,
} as const;

export type Priority = keyof typeof PRIORITIES;
export const PRIORITY_NAMES = Object.keys(PRIORITIES) as Priority[];

export function isPriority(value: string): value is Priority {
  return Object.hasOwn(PRIORITIES, value);
}
