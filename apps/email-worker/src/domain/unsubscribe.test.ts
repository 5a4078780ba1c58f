import { describe, expect, it } from 'vitest';
import { unsubscribeLinks, unsubscribeToken, verifyUnsubscribeToken } from './unsubscribe.js';

const secret = 'x'.repeat(40);
const subject = { workspaceId: 'w-1', leadId: 'l-1', campaignId: 'c-1' };

describe('unsubscribe tokens', () => {
  it('round-trips and rejects tampering or another secret', () => {
    const token = unsubscribeToken(secret, subject);
    expect(verifyUnsubscribeToken(secret, token)).toEqual(subject);
    expect(verifyUnsubscribeToken('y'.repeat(40), token)).toBeNull();
    const [payload, mac] = token.split('.');
    const forged = Buffer.from('w-2:l-1:c-1').toString('base64url');
    expect(verifyUnsubscribeToken(secret, `${forged}.${mac}`)).toBeNull();
    expect(verifyUnsubscribeToken(secret, `${payload}`)).toBeNull();
  });

  it('refuses a short secret (ColdCopy hashed "undefined" when the secret was unset)', () => {
    expect(() => unsubscribeToken('', subject)).toThrow(RangeError);
  });

  it('builds the HTTPS and mailto links', () => {
    const links = unsubscribeLinks({ baseUrl: 'https://app.example.com/u/', mailtoDomain: 'example.com', secret }, subject);
    expect(links.url).toMatch(/^https:\/\/app\.example\.com\/u\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(links.mailto).toMatch(/^mailto:unsub\+[A-Za-z0-9_.-]+@example\.com\?subject=unsubscribe$/);
  });
});
