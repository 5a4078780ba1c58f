/**
 * `@coldcopy/queue-core/board`: Bull Board's queue adapters for the operators' dashboard. Bull
 * Board's `BullAdapter` needs Bull's own Queue objects, which never leave queue-core: this module
 * builds the adapters over an admin set's queues (`openAdminQueues`) and hands out Bull Board's
 * Bull-free `BaseAdapter`, what `createBullBoard({ queues })` takes.
 */
import type { BaseAdapter } from '@bull-board/api/baseAdapter';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { bullQueueOf, type AdminShard } from '../admin/admin-queues.js';

export type { BaseAdapter as BoardAdapter } from '@bull-board/api/baseAdapter';

/** One queue on the board: a shard of `openAdminQueues()` and how the board shows it. */
export interface BoardQueue {
  readonly shard: AdminShard;
  /** the board hides every action and its API answers 405 */
  readonly readOnlyMode: boolean;
  readonly description?: string;
  /** the board's label (default: the Bull queue's name) */
  readonly displayName?: string;
}

/** What the board shows of a job's stored data and of its handler's result. */
export interface BoardFormatters {
  readonly data?: (data: unknown) => unknown;
  readonly returnValue?: (value: unknown) => unknown;
}

/** One Bull Board adapter per queue, in the order given. */
export function boardAdaptersFor(queues: readonly BoardQueue[], formatters: BoardFormatters = {}): BaseAdapter[] {
  return queues.map((q) => {
    const adapter = new BullAdapter(bullQueueOf(q.shard), {
      readOnlyMode: q.readOnlyMode,
      ...(q.description !== undefined ? { description: q.description } : {}),
      ...(q.displayName !== undefined ? { displayName: q.displayName } : {}),
    });
    const { data, returnValue } = formatters;
    if (data) adapter.setFormatter('data', data);
    if (returnValue) adapter.setFormatter('returnValue', returnValue);
    return adapter;
  });
}
