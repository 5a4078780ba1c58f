import { PermanentJobError, type syncCalendar } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { fanOutCalendarSyncs, syncCalendarAccount } from '../sync/calendar-sync.js';

/**
 * sync-calendar, two forms: per account, push our meetings then one sync round (full on 410 Gone
 * or when asked); the fan-out (`calendar-sync` schedule, every 15 minutes) enqueues one incremental
 * sync per account that is due.
 */
export const syncCalendarHandler: Handler<typeof syncCalendar, IntegrationDeps> = async (payload, ctx) => {
  if (payload.fanOut) {
    const result = await fanOutCalendarSyncs(ctx.deps, payload.slot, ctx);
    if (result.enqueued > 0) ctx.log.info('calendar sync fan-out', result);
    return result;
  }
  const { workspaceId, calendarAccountId, syncType } = payload;
  if (!workspaceId || !calendarAccountId || !syncType)
    throw new PermanentJobError('sync-calendar: expected { workspaceId, calendarAccountId, syncType } or { fanOut: true }');
  const result = await syncCalendarAccount(ctx.deps, { workspaceId, calendarAccountId, syncType }, ctx.jobId, ctx.signal);
  ctx.log.info('calendar sync finished', { syncType, ...result });
  return result;
};
