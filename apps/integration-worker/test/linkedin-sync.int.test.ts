import { randomUUID } from 'node:crypto';
import { activeLinkedinIntegrations, recordLinkedinIdentity, saveLinkedinIntegration, stopLinkedinIntegration } from '@coldcopy/db';
import { syncLinkedin } from '@coldcopy/queue-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenCipher, tokenBinding } from '../src/crypto/token-cipher.js';
import { type LinkedinEmulator, startLinkedinEmulator } from '../src/emulators/linkedin-emulator.js';
import { useIntegrationHarness } from './harness.js';
import { TEST_TOKEN_KEYS } from './keys.js';

const h = useIntegrationHarness();
let li: LinkedinEmulator;
beforeAll(async () => {
  li = await startLinkedinEmulator({ oauth: h.oauth });
});
afterAll(async () => {
  await li?.close();
});

const DAY = 86_400_000;
let day = 0;
const date = () => new Date(Date.UTC(2026, 11, 1 + day++)).toISOString().slice(0, 10);

/** A member's LinkedIn sign-in as the OAuth callback stores it: the token encrypted, its expiry. */
async function signIn(workspaceId: string, member: string, expiresInMs: number) {
  li.member(member, { sub: `sub-${member}`, given_name: 'Ada', family_name: member, email: `${member}@Acme.com` });
  const grant = h.oauth.grant(member);
  const cipher = createTokenCipher(TEST_TOKEN_KEYS);
  const id = randomUUID();
  const userId = randomUUID();
  await saveLinkedinIntegration(h.pool, workspaceId, {
    id,
    userId,
    accessToken: cipher.encrypt(grant.accessToken, tokenBinding('linkedin_integrations', id, 'access')),
    keyId: cipher.currentKeyId,
    expiresAt: new Date(Date.now() + expiresInMs),
  });
  return { id, userId, grant };
}

const row = async (id: string) =>
  (
    await h.pool.query(
      `SELECT status, linkedin_member_id, name, email, access_token_encrypted IS NULL AS wiped, last_checked_at FROM linkedin_integrations WHERE id = $1`,
      [id],
    )
  ).rows[0];
const notices = async (workspaceId: string) =>
  (await h.pool.query(`SELECT user_id, kind, severity, resource_id, body FROM user_notices WHERE workspace_id = $1 ORDER BY kind, user_id`, [workspaceId]))
    .rows;

describe('sync-linkedin (identity only)', () => {
  it('reads the OIDC identity, asks a member to sign in again before expiry, stops expired and revoked sign-ins, and calls nothing partner-gated', async () => {
    const { workspaceId } = await h.seed();
    const healthy = await signIn(workspaceId, 'healthy', 40 * DAY);
    const expiring = await signIn(workspaceId, 'expiring', 3 * DAY);
    const expired = await signIn(workspaceId, 'expired', -DAY);
    const revoked = await signIn(workspaceId, 'revoked', 30 * DAY);
    h.oauth.revoke('revoked');
    const w = await h.worker(h.deps({ LINKEDIN_API_URL: li.url }), 1);

    const first = await h.run(w, syncLinkedin, { workspaceId, requestedBy: 'test', jobType: 'identity', date: date() });
    expect(first).toMatchObject({ state: 'completed', value: { checked: 4, refreshed: 2, expiring: 1, expired: 1, revoked: 1 } });
    expect(await row(healthy.id)).toMatchObject({
      status: 'active',
      linkedin_member_id: 'sub-healthy',
      name: 'Ada healthy',
      email: 'healthy@acme.com',
      wiped: false,
    });
    expect((await row(healthy.id)).last_checked_at).toBeInstanceOf(Date);
    expect(await row(expiring.id)).toMatchObject({ status: 'active', linkedin_member_id: 'sub-expiring' });
    expect(await row(expired.id)).toMatchObject({ status: 'expired', wiped: true, linkedin_member_id: null });
    expect(await row(revoked.id)).toMatchObject({ status: 'revoked', wiped: true });
    const sent = await notices(workspaceId);
    expect(sent.map((n) => [n.kind, n.user_id, n.resource_id])).toEqual(
      expect.arrayContaining([
        ['integration.linkedin.expiring', expiring.userId, expiring.id],
        ['integration.linkedin.reconnect', expired.userId, expired.id],
        ['integration.linkedin.reconnect', revoked.userId, revoked.id],
      ]),
    );
    expect(sent).toHaveLength(3);
    // the expired one was not even asked about: its token is past its expiry
    expect(li.log('userinfo')).toHaveLength(3);

    // the next day: only the two live sign-ins are checked, and nobody is told twice
    const second = await h.run(w, syncLinkedin, { workspaceId, requestedBy: 'test', jobType: 'identity', date: date() });
    expect(second).toMatchObject({ state: 'completed', value: { checked: 2, refreshed: 2, expiring: 1 } });
    expect(await notices(workspaceId)).toHaveLength(3);

    // analytics are partner-gated: refused for good, without a call
    const analytics = await h.run(w, syncLinkedin, { workspaceId, requestedBy: 'test', jobType: 'analytics', date: date() });
    expect(analytics).toMatchObject({ state: 'failed', attempts: 1 });
    expect(analytics.reason).toContain('partner program');
    expect(li.log().map((r) => r.endpoint)).toEqual(Array(5).fill('userinfo'));
    expect(li.log('partner-gated')).toHaveLength(0);
  });

  it('the emulator answers partner-gated APIs 403 ACCESS_DENIED, as LinkedIn does for a self-serve app', async () => {
    const { grant } = await signIn((await h.seed()).workspaceId, 'gated', 10 * DAY);
    for (const path of ['/v2/people/(id:abc)', '/v2/connections', '/rest/messages', '/v2/invitations']) {
      const res = await fetch(`${li.url}${path}`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'ACCESS_DENIED' });
    }
    expect(li.log('partner-gated')).toHaveLength(4);
  });

  it("a workspace's job cannot read or change another workspace's LinkedIn sign-in", async () => {
    const a = await h.seed();
    const b = await h.seed();
    const theirs = await signIn(b.workspaceId, 'tenant-b', 10 * DAY);
    expect(await activeLinkedinIntegrations(h.pool, a.workspaceId)).toEqual([]);
    await recordLinkedinIdentity(h.pool, a.workspaceId, theirs.id, { memberId: 'x', name: 'x', email: 'x@x.com', pictureUrl: null });
    const notice = { userId: null, kind: 'k', severity: 'error' as const, title: 't', body: 'b', dedupeKey: `k-${theirs.id}` };
    expect(await stopLinkedinIntegration(h.pool, a.workspaceId, theirs.id, 'revoked', notice)).toBe(false);
    expect(await row(theirs.id)).toMatchObject({ status: 'active', linkedin_member_id: null, wiped: false });
    expect(await notices(a.workspaceId)).toEqual([]);
  });
});
