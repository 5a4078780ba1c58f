import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { EmailDeps } from '../deps.js';
import { processWebhookHandler } from './process-webhook.js';
import { sendBulkEmailHandler } from './send-bulk-email.js';
import { sendEmailHandler } from './send-email.js';
import { warmEmailHandler } from './warm-email.js';

/** Every job of the email queue; a missing or mistyped handler fails to compile. */
export const handlers = {
  'send-email': sendEmailHandler,
  'send-bulk-email': sendBulkEmailHandler,
  'process-webhook': processWebhookHandler,
  'warm-email': warmEmailHandler,
} satisfies HandlersFor<'email', EmailDeps>;
