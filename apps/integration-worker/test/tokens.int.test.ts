import { getIntegrationConnection, listOpenIntegrationNotices } from '@coldcopy/db';
import { syncHubspot } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, tokenBinding } from '../src/crypto/token-cipher.js';
import { useIntegrationHarness } from './harness.js';
import { TEST_ROTATED_TOKEN_KEYS } from './keys.js';

const h = useIntegrationHarness();
const slot = (i: number) => `20261206T05${String(i).padStart(2, '0')}Z`;

describe('OAuth tokens', () => {
  it('20 concurrent jobs of one connection with an expired access token make exactly 1 refresh call (two replicas)', async () => {
    const { workspaceId, connectionId } = await h.seed({ expired: true });
    const before = h.oauth.refreshes();
    // two replicas: separate deps (token managers, Redis connections), one queue
    const a = await h.worker(h.deps(), 10);
    const b = await h.worker(h.deps(), 10);
    const ids = [];
    for (let i = 0; i < 20; i++)
      ids.push((await h.producer.enqueue(syncHubspot, { workspaceId, requestedBy: 'test', mode: 'incremental', windowSlot: slot(i) })).id);
    const results = await Promise.all(ids.map((id, i) => h.settle(i % 2 ? a : b, id)));
    expect(results.map((r) => r.state)).toEqual(Array(20).fill('completed'));
    expect(h.oauth.refreshes() - before).toBe(1);
    expect(h.oauth.log('token')).toHaveLength(1);
    // the new token was stored (encrypted) before use: every search call carried a valid one
    expect(h.hubspot.log('search').filter((r) => r.status === 401)).toEqual([]);
    const row = (await getIntegrationConnection(h.pool, workspaceId, 'hubspot'))!;
    expect(row.expires_at!.getTime()).toBeGreaterThan(Date.now() + 600_000);
    expect(row.last_refreshed_at).not.toBeNull();
    expect(row.id).toBe(connectionId);
  }, 180_000);

  it('a revoked grant deactivates the connection with one notice and no retry storm', async () => {
    const { workspaceId, portal } = await h.seed({ expired: true });
    h.oauth.revoke(portal);
    const w = await h.worker(h.deps(), 5);
    const ids = [];
    for (let i = 0; i < 5; i++)
      ids.push((await h.producer.enqueue(syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot(30 + i) })).id);
    const results = await Promise.all(ids.map((id) => h.settle(w, id)));
    // permanent: one attempt each, never retried
    expect(results.map((r) => [r.state, r.attempts])).toEqual(Array(5).fill(['failed', 1]));
    expect(results.every((r) => /revoked|reconnect/.test(r.reason))).toBe(true);
    // the token endpoint saw one refusal; later jobs found the connection revoked
    expect(h.oauth.log('token').map((r) => r.status)).toEqual([400]);
    const row = (await getIntegrationConnection(h.pool, workspaceId, 'hubspot'))!;
    expect(row).toMatchObject({ status: 'revoked', access_token_encrypted: null, refresh_token_encrypted: null });
    const notices = await listOpenIntegrationNotices(h.pool, workspaceId);
    expect(notices.map((n) => [n.provider, n.kind])).toEqual([['hubspot', 'reconnect_required']]);
  }, 180_000);

  it('re-encrypts a token under the current key after a rotation', async () => {
    const { workspaceId, connectionId, grant } = await h.seed();
    const before = h.oauth.refreshes();
    const rotated = h.deps({ INTEGRATION_TOKEN_KEYS: TEST_ROTATED_TOKEN_KEYS });
    const { accessToken } = await rotated.tokens.accessToken(workspaceId, 'hubspot');
    expect(accessToken).toBe(grant.accessToken);
    const row = (await getIntegrationConnection(h.pool, workspaceId, 'hubspot'))!;
    expect(row.token_key_id).toBe('k2');
    // readable with k2 alone: the old key can be dropped
    const k2only = createTokenCipher(TEST_ROTATED_TOKEN_KEYS.split(',')[0]!);
    expect(k2only.decrypt(row.refresh_token_encrypted!, tokenBinding('integration_connections', connectionId, 'refresh'))).toBe(grant.refreshToken);
    expect(h.oauth.refreshes() - before).toBe(0);
  });
});
