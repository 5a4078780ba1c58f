import {
  activeLinkedinIntegrations,
  insertUserNotice,
  type LinkedinIntegrationRow,
  type Pool,
  recordLinkedinIdentity,
  stopLinkedinIntegration,
  withTransaction,
} from '@coldcopy/db';
import { type TokenCipher, tokenBinding } from '../crypto/token-cipher.js';
import { type LinkedinApi, LinkedinAuthError } from '../providers/linkedin-client.js';

/**
 * The LinkedIn identity check (sync-linkedin `identity`, providers.md §10): for every active
 * LinkedIn sign-in of the workspace, the member's OIDC identity is read again from `/v2/userinfo`
 * and stored with the check time. Self-serve apps get 60-day access tokens and no refresh token,
 * so the token's expiry is what the member must act on: within `noticeMs` of it the member gets a
 * "sign in again" notice (once per token), at expiry (or on a 401: revoked) the sign-in stops, its
 * token is wiped and the member is told to reconnect. Nothing else is called.
 */
export interface LinkedinSyncDeps {
  readonly pool: Pool;
  readonly linkedin: LinkedinApi;
  readonly cipher: TokenCipher;
  readonly config: { readonly linkedinNoticeMs: number };
}

export interface LinkedinCounts {
  checked: number;
  refreshed: number;
  expiring: number;
  expired: number;
  revoked: number;
}

const utc = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function reconnectNotice(row: LinkedinIntegrationRow, why: 'expired' | 'revoked') {
  return {
    userId: row.user_id,
    kind: 'integration.linkedin.reconnect',
    severity: 'error' as const,
    title: 'Reconnect LinkedIn',
    body:
      why === 'expired'
        ? `Your LinkedIn sign-in expired on ${utc(row.expires_at!)}. LinkedIn does not let ColdCopy renew it: sign in with LinkedIn again.`
        : 'LinkedIn no longer accepts your sign-in (it was revoked or replaced). Sign in with LinkedIn again.',
    resourceType: 'linkedin_integration',
    resourceId: row.id,
    data: { reason: why, ...(row.expires_at ? { expiresAt: row.expires_at.toISOString() } : {}) },
    dedupeKey: `linkedin:${row.id}:reconnect:${row.expires_at?.getTime() ?? 0}`,
  };
}

export async function checkLinkedinIdentities(deps: LinkedinSyncDeps, workspaceId: string, now: Date, signal?: AbortSignal): Promise<LinkedinCounts> {
  const counts: LinkedinCounts = { checked: 0, refreshed: 0, expiring: 0, expired: 0, revoked: 0 };
  for (const row of await activeLinkedinIntegrations(deps.pool, workspaceId)) {
    signal?.throwIfAborted();
    counts.checked++;
    if (!row.expires_at || row.expires_at.getTime() <= now.getTime()) {
      await withTransaction(deps.pool, (tx) => stopLinkedinIntegration(tx, workspaceId, row.id, 'expired', reconnectNotice(row, 'expired')));
      counts.expired++;
      continue;
    }
    const token = deps.cipher.decrypt(row.access_token_encrypted!, tokenBinding('linkedin_integrations', row.id, 'access'));
    let identity;
    try {
      identity = await deps.linkedin.userinfo(token, signal);
    } catch (err) {
      if (!(err instanceof LinkedinAuthError)) throw err;
      await withTransaction(deps.pool, (tx) => stopLinkedinIntegration(tx, workspaceId, row.id, 'revoked', reconnectNotice(row, 'revoked')));
      counts.revoked++;
      continue;
    }
    await recordLinkedinIdentity(deps.pool, workspaceId, row.id, identity);
    counts.refreshed++;
    if (row.expires_at.getTime() - now.getTime() <= deps.config.linkedinNoticeMs) {
      await insertUserNotice(deps.pool, workspaceId, {
        userId: row.user_id,
        kind: 'integration.linkedin.expiring',
        severity: 'warning',
        title: 'Your LinkedIn sign-in expires soon',
        body: `LinkedIn sign-ins last 60 days and cannot be renewed in the background. Sign in with LinkedIn again before ${utc(row.expires_at)} to keep your profile connected.`,
        resourceType: 'linkedin_integration',
        resourceId: row.id,
        data: { expiresAt: row.expires_at.toISOString() },
        dedupeKey: `linkedin:${row.id}:expiring:${row.expires_at.getTime()}`,
      });
      counts.expiring++;
    }
  }
  return counts;
}
