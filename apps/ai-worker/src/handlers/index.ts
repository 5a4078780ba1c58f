import type { HandlersFor } from '@coldcopy/queue-core/runtime';
import type { AiDeps } from '../deps.js';
import { analyzeSentimentHandler } from './analyze-sentiment.js';
import { extractMeetingIntentHandler } from './extract-meeting-intent.js';
import { generateEmailContentHandler } from './generate-email-content.js';
import { generateSmartReplyHandler } from './generate-smart-reply.js';

/** Every job of the ai queue; a missing or mistyped handler fails to compile. */
export const handlers = {
  'generate-email-content': generateEmailContentHandler,
  'analyze-sentiment': analyzeSentimentHandler,
  'generate-smart-reply': generateSmartReplyHandler,
  'extract-meeting-intent': extractMeetingIntentHandler,
} satisfies HandlersFor<'ai', AiDeps>;
