import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { MaintenanceDeps } from '../deps.js';
import { backupDataHandler } from './backup-data.js';
import { cacheWarmingHandler } from './cache-warming.js';
import { cleanupOldDataHandler } from './cleanup-old-data.js';
import { optimizeImagesHandler } from './optimize-images.js';

/** Every job of the maintenance queue; a missing or mistyped handler fails to compile. */
export const handlers = {
  'cleanup-old-data': cleanupOldDataHandler,
  'backup-data': backupDataHandler,
  'optimize-images': optimizeImagesHandler,
  'cache-warming': cacheWarmingHandler,
} satisfies HandlersFor<'maintenance', MaintenanceDeps>;
