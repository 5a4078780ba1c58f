import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * One-click unsubscribe tokens (email-ses-sns.md §10): `<payload>.<mac>`, payload =
 * base64url("workspace:lead:campaign"), mac = HMAC-SHA256 under a required secret. The web app's
 * endpoint verifies with the same function and unsubscribes on POST.
 */
export interface UnsubscribeSubject {
  readonly workspaceId: string;
  readonly leadId: string;
  readonly campaignId: string;
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function unsubscribeToken(secret: string, s: UnsubscribeSubject): string {
  if (secret.length < 32) throw new RangeError('unsubscribe secret must have at least 32 characters');
  const payload = Buffer.from(`${s.workspaceId}:${s.leadId}:${s.campaignId}`).toString('base64url');
  return `${payload}.${mac(secret, payload)}`;
}

/** The subject of a valid token, or null (constant-time comparison). */
export function verifyUnsubscribeToken(secret: string, token: string): UnsubscribeSubject | null {
  const [payload, given, extra] = token.split('.');
  if (!payload || !given || extra !== undefined) return null;
  const expected = Buffer.from(mac(secret, payload));
  const actual = Buffer.from(given);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  const [workspaceId, leadId, campaignId] = Buffer.from(payload, 'base64url').toString().split(':');
  if (!workspaceId || !leadId || !campaignId) return null;
  return { workspaceId, leadId, campaignId };
}

export interface UnsubscribeConfig {
  readonly baseUrl: string;
  readonly mailtoDomain: string;
  readonly secret: string;
}

export function unsubscribeLinks(config: UnsubscribeConfig, s: UnsubscribeSubject): { url: string; mailto: string } {
  const token = unsubscribeToken(config.secret, s);
  return {
    url: `${config.baseUrl.replace(/\/+$/, '')}/${token}`,
    mailto: `mailto:unsub+${token}@${config.mailtoDomain}?subject=unsubscribe`,
  };
}
