import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './llm-client.js';
import { slowDownMs } from './provider-limits.js';

const headers = (h: Record<string, string>) => new Headers(h);

describe('retryAfterMs', () => {
  it('prefers retry-after-ms, then retry-after in seconds or as an HTTP date', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(headers({ 'retry-after': new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(retryAfterMs(headers({}))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });
});

describe('slowDownMs', () => {
  it('holds off when remaining requests or tokens fall below 10 % of the limit', () => {
    expect(slowDownMs({ remainingRequests: 500, limitRequests: 1000 })).toBe(0);
    // 1000 rpm: 100 is the floor, 40 missing → 40 requests at 1000/min = 2.4 s
    expect(slowDownMs({ remainingRequests: 60, limitRequests: 1000 })).toBe(2400);
    expect(slowDownMs({ remainingTokens: 0, limitTokens: 60_000, remainingRequests: 999, limitRequests: 1000 })).toBe(6000);
    expect(slowDownMs({})).toBe(0);
  });
});
