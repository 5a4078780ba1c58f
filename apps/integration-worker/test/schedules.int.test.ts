import { randomUUID } from 'node:crypto';
import { countPendingOutbox, integrationSyncOverdueSeconds, saveLinkedinIntegration } from '@coldcopy/db';
import { schedulesOn, syncHubspot, syncLinkedin, syncSalesforce } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import { describe, expect, it } from 'vitest';
import { createTokenCipher, tokenBinding } from '../src/crypto/token-cipher.js';
import { useIntegrationHarness } from './harness.js';
import { TEST_TOKEN_KEYS } from './keys.js';

const h = useIntegrationHarness();
const SLOT = '20261206T0900Z';

describe('integration schedules', () => {
  it('declares the outbox drains every 5 minutes, the pulls every 15 and the daily LinkedIn check (beside the calendar sync), all as fan-outs', () => {
    expect(schedulesOn('integration').map((s) => [s.key, s.job.name, s.cron, (s.data as { fanOut?: true }).fanOut])).toEqual([
      ['calendar-sync', 'sync-calendar', '*/15 * * * *', true],
      ['hubspot-outbox-drain', 'sync-hubspot', '*/5 * * * *', true],
      ['hubspot-incremental', 'sync-hubspot', '*/15 * * * *', true],
      ['salesforce-outbox', 'sync-salesforce', '*/5 * * * *', true],
      ['salesforce-incremental', 'sync-salesforce', '*/15 * * * *', true],
      ['linkedin-identity-check', 'sync-linkedin', '0 6 * * *', true],
    ]);
    // the fan-out form has no tenant; the per-workspace form needs one
    expect(syncSalesforce.inputSchema.safeParse({ fanOut: true, syncType: 'outbox', integrationId: randomUUID() }).success).toBe(false);
    expect(syncHubspot.inputSchema.safeParse({ fanOut: true, mode: 'outbox', workspaceId: randomUUID() }).success).toBe(false);
    expect(syncHubspot.inputSchema.safeParse({ mode: 'outbox', windowSlot: SLOT }).success).toBe(false);
  });

  it('a fan-out enqueues one job per due connection: every active one for the outbox, pulls honouring sync_frequency_minutes', async () => {
    const a = await h.seed({ leads: 3 });
    const b = await h.seed({ leads: 2 });
    const revoked = await h.seed({ leads: 4 });
    await h.pool.query(`UPDATE integration_connections SET status = 'revoked' WHERE workspace_id = $1`, [revoked.workspaceId]);
    const never = await h.seed({ provider: 'salesforce' });
    const hourly = await h.seed({ provider: 'salesforce' });
    await h.pool.query(`UPDATE integration_connections SET sync_frequency_minutes = 60 WHERE workspace_id = $1`, [hourly.workspaceId]);
    const lastPull = (ws: string, minutesAgo: number) =>
      h.pool.query(
        `INSERT INTO integration_sync_state (workspace_id, provider, object_type, direction, last_success_at) VALUES ($1, 'salesforce', 'contacts', 'inbound', now() - make_interval(mins => $2))
         ON CONFLICT (workspace_id, provider, object_type, direction) DO UPDATE SET last_success_at = EXCLUDED.last_success_at`,
        [ws, minutesAgo],
      );
    await lastPull(hourly.workspaceId, 20);
    const w = await h.worker(h.deps(), 4);

    const drain = await h.run(w, syncHubspot, { fanOut: true, mode: 'outbox', requestedBy: 'test', windowSlot: SLOT });
    expect(drain).toMatchObject({ state: 'completed', value: { enqueued: 2, windowSlot: SLOT } });
    await waitFor(
      async () => (await countPendingOutbox(h.pool, a.workspaceId, 'hubspot')) + (await countPendingOutbox(h.pool, b.workspaceId, 'hubspot')) === 0,
      {
        timeoutMs: 60_000,
        what: 'both outboxes drained by the fanned-out jobs',
      },
    );
    expect(h.hubspot.contacts.size).toBe(5);
    expect(await countPendingOutbox(h.pool, revoked.workspaceId, 'hubspot')).toBe(4); // a revoked connection is left alone

    // the hourly org pulled 20 minutes ago is not due; the one never pulled is
    const pull = await h.run(w, syncSalesforce, { fanOut: true, syncType: 'incremental', requestedBy: 'test', windowSlot: SLOT });
    expect(pull).toMatchObject({ state: 'completed', value: { enqueued: 1 } });
    await waitFor(
      async () =>
        (await h.pool.query(`SELECT 1 FROM integration_sync_logs WHERE workspace_id = $1 AND provider = 'salesforce'`, [never.workspaceId])).rowCount === 1,
      { timeoutMs: 60_000, what: 'the due org pulled' },
    );
    await lastPull(hourly.workspaceId, 61);
    expect(await integrationSyncOverdueSeconds(h.pool, 'salesforce', 'contacts')).toBeGreaterThan(30);
    const later = await h.run(w, syncSalesforce, { fanOut: true, syncType: 'incremental', requestedBy: 'test', windowSlot: '20261206T0915Z' });
    expect(later).toMatchObject({ state: 'completed', value: { enqueued: 1 } });
    await waitFor(
      async () =>
        (await h.pool.query(`SELECT 1 FROM integration_sync_logs WHERE workspace_id = $1 AND provider = 'salesforce'`, [hourly.workspaceId])).rowCount === 1,
      { timeoutMs: 60_000, what: 'the hourly org pulled once due' },
    );
    expect(await integrationSyncOverdueSeconds(h.pool, 'salesforce', 'contacts')).toBe(0);

    // LinkedIn: one check per workspace with an active sign-in; the date comes from the run
    const cipher = createTokenCipher(TEST_TOKEN_KEYS);
    const id = randomUUID();
    await saveLinkedinIntegration(h.pool, a.workspaceId, {
      id,
      userId: randomUUID(),
      accessToken: cipher.encrypt('at-expired', tokenBinding('linkedin_integrations', id, 'access')),
      keyId: cipher.currentKeyId,
      expiresAt: new Date(Date.now() - 1000),
    });
    const li = await h.run(w, syncLinkedin, { fanOut: true, jobType: 'identity', requestedBy: 'test' });
    expect(li).toMatchObject({ state: 'completed', value: { enqueued: 1, date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) } });
    await waitFor(async () => (await h.pool.query(`SELECT status FROM linkedin_integrations WHERE id = $1`, [id])).rows[0].status === 'expired', {
      timeoutMs: 60_000,
      what: 'the expired sign-in stopped by the fanned-out check',
    });
  }, 120_000);
});
