import { describe, expect, it } from 'vitest';
import { apolloError } from './apollo-provider.js';
import { ProviderAccountError, ProviderRequestError, ProviderRetryError, ProviderUnavailableError } from './enrichment-provider.js';
import { hunterError } from './hunter-provider.js';
import { pauseForWindows } from './provider-limits.js';
import { spacingOf } from './redis-provider-limits.js';

const res = (status: number, headers: Record<string, string> = {}, body: unknown = {}) => ({ status, headers: new Headers(headers), body });
const hunterOptions = { pendingRetryMs: 10_000, smtpRetryMs: 300_000, rateLimitRetryMs: 2000 };

describe("Hunter's status codes", () => {
  it.each([
    [202, ProviderRetryError, 'pending', 10_000],
    [222, ProviderRetryError, 'smtp-failure', 300_000],
    [403, ProviderRetryError, 'rate-limit', 2000],
  ] as const)('%i → re-queue (%s)', (status, type, reason, ms) => {
    const err = hunterError(res(status), hunterOptions);
    expect(err).toBeInstanceOf(type);
    expect(err).toMatchObject({ name: 'RetryAfterError', reason, retryAfterMs: ms });
  });
  it('429 is the exhausted plan and 401 a bad key: permanent account errors', () => {
    expect(hunterError(res(429), hunterOptions)).toMatchObject({ name: 'ProviderAccountError', problem: 'plan-exhausted', permanent: true });
    expect(hunterError(res(401), hunterOptions)).toMatchObject({ problem: 'unauthorized' });
  });
  it('451, 400 and 422 refuse the request; 5xx is transient', () => {
    expect(hunterError(res(451, {}, { errors: [{ id: 'claimed_email' }] }), hunterOptions)).toEqual(new ProviderRequestError('hunter', 451, 'claimed_email'));
    expect(hunterError(res(422), hunterOptions)).toBeInstanceOf(ProviderRequestError);
    expect(hunterError(res(502), hunterOptions)).toBeInstanceOf(ProviderUnavailableError);
  });
});

describe("Apollo's status codes", () => {
  it('429 honours retry-after (seconds), else the configured delay', () => {
    expect(apolloError(res(429, { 'retry-after': '37' }), { rateLimitRetryMs: 2000 })).toMatchObject({ reason: 'rate-limit', retryAfterMs: 37_000 });
    expect(apolloError(res(429), { rateLimitRetryMs: 2000 })).toMatchObject({ retryAfterMs: 2000 });
  });
  it('401/403 unauthorized, 422 "insufficient credits" no credits: permanent; another 422 refuses the request', () => {
    expect(apolloError(res(401), { rateLimitRetryMs: 1 })).toBeInstanceOf(ProviderAccountError);
    expect(apolloError(res(422, {}, { error: 'You have insufficient credits' }), { rateLimitRetryMs: 1 })).toMatchObject({ problem: 'no-credits' });
    expect(apolloError(res(422, {}, { error: 'bad domain' }), { rateLimitRetryMs: 1 })).toBeInstanceOf(ProviderRequestError);
    expect(apolloError(res(500), { rateLimitRetryMs: 1 })).toBeInstanceOf(ProviderUnavailableError);
  });
});

describe('reported windows', () => {
  it('stop for a whole window when one is empty, spread the rest when one runs low', () => {
    expect(pauseForWindows({ minute: 10, hour: 100, limits: { minute: 50, hour: 200 } })).toEqual({ pauseMs: 0, stopMs: 0 });
    expect(pauseForWindows({ minute: 0 })).toEqual({ pauseMs: 0, stopMs: 60_000 });
    expect(pauseForWindows({ minute: 3, limits: { minute: 50 } })).toEqual({ pauseMs: 15_000, stopMs: 0 });
    expect(pauseForWindows({ minute: 5, day: 0 })).toEqual({ pauseMs: 0, stopMs: 86_400_000 });
  });
});

describe('GCRA spacing of an endpoint', () => {
  it('spreads the slack over the window, so a 100/s limit with 20 ms slack stays at 98/s', () => {
    const s = spacingOf({ perSecond: 100, perMinute: 6000, maxConcurrent: 40 }, 20)!;
    expect(s).toEqual({ max: 100, perMs: 1000, slackMs: 20 });
    expect(1000 / ((s.perMs + s.slackMs!) / s.max)).toBeCloseTo(98.04, 1);
  });
  it('takes the window that needs the wider spacing, and none without rates', () => {
    expect(spacingOf({ perSecond: 15, perMinute: 500, maxConcurrent: 10 }, 20)).toEqual({ max: 500, perMs: 60_000, slackMs: 20 });
    expect(spacingOf({ perHour: 200, maxConcurrent: 5 }, 20)).toBeUndefined();
  });
});
