import { SESServiceException } from '@aws-sdk/client-ses';
import { describe, expect, it } from 'vitest';
import { classifySesError } from './ses-errors.js';

const ses = (name: string, message: string, status = 400, fault: 'client' | 'server' = 'client') =>
  new SESServiceException({ name, $fault: fault, message, $metadata: { httpStatusCode: status } });

describe('classifySesError (email-ses-sns.md §2)', () => {
  it.each([
    [ses('Throttling', 'Maximum sending rate exceeded.'), 'throttled'],
    [ses('Throttling', 'Daily message quota exceeded.'), 'daily-quota'],
    [ses('TooManyRequestsException', 'Too many requests', 429), 'throttled'],
    [ses('MessageRejected', 'Email address is not verified.'), 'rejected'],
    [ses('MailFromDomainNotVerifiedException', 'not verified'), 'rejected'],
    [ses('ConfigurationSetDoesNotExistException', 'no such set'), 'rejected'],
    [ses('InvalidParameterValue', 'bad'), 'rejected'],
    [ses('AccountSendingPausedException', 'paused'), 'account-paused'],
    [ses('ConfigurationSetSendingPausedException', 'paused'), 'mailbox-paused'],
    [ses('InternalFailure', 'boom', 500, 'server'), 'unknown'],
    [ses('ServiceUnavailable', 'later', 503, 'server'), 'unknown'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'unknown'],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'unknown'],
    [Object.assign(new Error('aborted'), { name: 'AbortError' }), 'unknown'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'not-sent'],
    [ses('SignatureDoesNotMatch', 'bad signature', 403), 'not-sent'],
  ])('%s → %s', (err, kind) => {
    expect(classifySesError(err).kind).toBe(kind);
  });

  it('keeps the SES error name as code and gives throttling a short retry', () => {
    const e = classifySesError(ses('Throttling', 'Maximum sending rate exceeded.'), 1500);
    expect(e.code).toBe('Throttling');
    expect(e.retryAfterMs).toBe(1500);
    expect(e.cause).toBeInstanceOf(SESServiceException);
  });
});
