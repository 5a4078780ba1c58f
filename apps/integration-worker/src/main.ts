import { schedulesOn } from '@coldcopy/queue-core';
import { runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps } from './deps.js';
import { envSchema } from './env.js';
import { definitions, dispatchedHandlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/runtime/app.ts).
await runWorkerApp({
  app: 'integration-worker',
  queue: 'integration',
  env: envSchema,
  handlers: dispatchedHandlers,
  definitions,
  createDeps,
  closeDeps,
  // Reconciled at startup: the fan-outs of the HubSpot and Salesforce outbox drains (every 5 min)
  // and pulls (every 15, honouring sync_frequency_minutes), the calendar sync and the daily LinkedIn check.
  schedules: schedulesOn('integration'),
});
