import { schedulesOn } from '@coldcopy/queue-core';
import { runWorkerApp } from '@coldcopy/queue-core/runtime';
import { closeDeps, createDeps } from './deps.js';
import { envSchema } from './env.js';
import { handlers } from './handlers/index.js';

// The composition root: env → deps → worker → health server → signals (queue-core/src/app.ts).
await runWorkerApp({
  app: 'analytics-worker',
  queue: 'analytics',
  env: envSchema,
  handlers,
  createDeps,
  closeDeps,
  // Reconciled at startup: the four refresh-analytics groups (every 15 min, 30 min, hour, 6 h).
  schedules: schedulesOn('analytics'),
});
