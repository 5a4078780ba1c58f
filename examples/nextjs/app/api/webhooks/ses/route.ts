import { createSesWebhookHandler } from '@coldcopy/web';

export const runtime = 'nodejs';

// SNS posts here: the raw body goes to process-webhook (verified by the email worker), 202 at once
export const POST = createSesWebhookHandler();
