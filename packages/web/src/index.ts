/**
 * @coldcopy/web: what a web app's server code (Next.js route handlers, server actions) needs from
 * the job platform, and nothing a worker needs:
 *
 * - the job definitions, queues and errors (`@coldcopy/queue-core`),
 * - the producer (`getProducer`, `createProducer`, and `producerFromEnv` for `REDIS_URL`/`BULL_PREFIX`),
 * - `createSesWebhookHandler()`: the SES/SNS webhook route (verifies SNS before it enqueues),
 * - `readJsonBody()` and `jobErrorResponse()`: 400 with the validation issues, 503 while Redis is down.
 *
 * Its dependency tree holds no worker SDK, logger or metrics library (a test walks it).
 */
export * from '@coldcopy/queue-core';
export { createProducer, getProducer, Producer, type BulkItem, type EnqueuedJob, type ProducerConfig } from '@coldcopy/queue-core/producer';
export { producerFromEnv } from './producer-from-env.js';
export { readBoundedText, RequestBodyError } from './body.js';
export { jobErrorResponse, readJsonBody, type JobErrorBody } from './responses.js';
export { createHubspotWebhookHandler, hubspotSignatureV3, type HubspotWebhookHandlerOptions } from './hubspot-webhook.js';
export { createSesWebhookHandler, type SesWebhookHandlerOptions } from './ses-webhook.js';
