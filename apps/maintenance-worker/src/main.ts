import { schedulesOn } from '@coldcopy/queue-core';
import { type HandlersFor, runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps, type MaintenanceDeps } from './deps.js';
import { envSchema } from './env.js';
import { definitions, handlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/runtime/app.ts).
await runWorkerApp({
  app: 'maintenance-worker',
  queue: 'maintenance',
  env: envSchema,
  // only the implemented jobs are dispatched (`definitions`); the runtime checks both lists match
  handlers: handlers as HandlersFor<'maintenance', MaintenanceDeps>,
  definitions,
  createDeps,
  closeDeps,
  // reconciled at startup; only the schedules of dispatched jobs are kept
  schedules: schedulesOn('maintenance'),
});
