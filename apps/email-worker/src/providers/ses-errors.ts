import { SendError, type SendFailureKind } from './email-sender.js';

/**
 * SES v1 errors → what the job does (email-ses-sns.md §2). v1 names both quota cases `Throttling`;
 * only the message tells them apart.
 */
const REJECTED = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'MailFromDomainNotVerified',
  'ConfigurationSetDoesNotExistException',
  'ConfigurationSetDoesNotExist',
  'TemplateDoesNotExistException',
  'InvalidParameterValue',
  'InvalidParameterValueException',
  'LimitExceededException',
  'BadRequestException',
  'NotFoundException',
]);
const ACCOUNT_PAUSED = new Set(['AccountSendingPausedException', 'SendingPausedException', 'AccountSuspendedException']);
const MAILBOX_PAUSED = new Set(['ConfigurationSetSendingPausedException']);
const THROTTLED = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException']);
/** the connection was never made, so the request cannot have reached SES */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface SesErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

export function classifySesError(err: unknown, throttleRetryMs = 1000): SendError {
  if (err instanceof SendError) return err;
  const e = (err ?? {}) as SesErrorShape;
  const name = e.name ?? 'Error';
  const message = e.message ?? String(err);
  const status = e.$metadata?.httpStatusCode;
  const make = (kind: SendFailureKind, retryAfterMs?: number) => new SendError(kind, `SES ${name}: ${message}`, name, { cause: err, retryAfterMs });

  if (THROTTLED.has(name) || status === 429) {
    return /daily message quota/i.test(message) ? make('daily-quota') : make('throttled', throttleRetryMs);
  }
  if (ACCOUNT_PAUSED.has(name)) return make('account-paused');
  if (MAILBOX_PAUSED.has(name)) return make('mailbox-paused');
  if (REJECTED.has(name)) return make('rejected');
  const code = e.code ?? (e as { cause?: { code?: string } }).cause?.code;
  if (code && NOT_CONNECTED.has(code)) return make('not-sent');
  // A 4xx we do not know (credentials, signature, access): SES refused the request, nothing was
  // sent, but retrying may help once someone fixes the configuration.
  if (e.$fault === 'client' && status !== undefined && status >= 400 && status < 500 && status !== 408) return make('not-sent');
  // Timeouts, 5xx, resets, our own abort while the request was in flight: it may have been sent.
  return make('unknown');
}
