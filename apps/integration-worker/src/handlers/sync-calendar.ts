import type { syncCalendar } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { syncCalendarAccount } from '../sync/calendar-sync.js';

/** sync-calendar: push our meetings, then one sync round of the account (full on 410 Gone or when asked). */
export const syncCalendarHandler: Handler<typeof syncCalendar, IntegrationDeps> = async (payload, ctx) => {
  const result = await syncCalendarAccount(ctx.deps, payload, ctx.jobId, ctx.signal);
  ctx.log.info('calendar sync finished', { syncType: payload.syncType, ...result });
  return result;
};
