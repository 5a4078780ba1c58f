import { backupData, cleanupOldData, optimizeImages } from '@coldcopy/queue-core';
import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';
import { backupDataHandler } from './backup-data.js';
import { cleanupOldDataHandler } from './cleanup-old-data.js';
import { optimizeImagesHandler } from './optimize-images.js';

type MaintenanceHandlers = HandlersFor<'maintenance', MaintenanceDeps>;

/**
 * The maintenance jobs this worker implements, and their definitions: the worker dispatches only
 * these (a job type without a handler here does not exist in the worker; its jobs fail as unknown).
 */
export const handlers = {
  'cleanup-old-data': cleanupOldDataHandler,
  'backup-data': backupDataHandler,
  'optimize-images': optimizeImagesHandler,
} satisfies Partial<MaintenanceHandlers>;

export const definitions = [cleanupOldData, backupData, optimizeImages];
