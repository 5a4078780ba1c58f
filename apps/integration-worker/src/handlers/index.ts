import { syncCalendar, syncHubspot, syncLinkedin, syncSalesforce } from '@coldcopy/queue-core';
import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { syncCalendarHandler } from './sync-calendar.js';
import { syncHubspotHandler } from './sync-hubspot.js';
import { syncLinkedinHandler } from './sync-linkedin.js';
import { syncSalesforceHandler } from './sync-salesforce.js';

/**
 * The integration jobs this worker runs, and their definitions: a job type without a handler here
 * is not dispatched (a job of it fails as unknown instead of running a placeholder).
 */
export const handlers = {
  'sync-hubspot': syncHubspotHandler,
  'sync-salesforce': syncSalesforceHandler,
  'sync-calendar': syncCalendarHandler,
  'sync-linkedin': syncLinkedinHandler,
} satisfies Partial<HandlersFor<'integration', IntegrationDeps>>;

export const definitions = [syncHubspot, syncSalesforce, syncCalendar, syncLinkedin] as const;

/**
 * The runtime's type wants a handler for every job of the queue; `definitions` limits dispatch to
 * the implemented ones (startWorker refuses a handler without a definition and vice versa).
 */
export const dispatchedHandlers = handlers as unknown as HandlersFor<'integration', IntegrationDeps>;
