import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { TenancyError } from '../src/errors.js';
import { loadDbEnv } from '../src/env.js';
import { closePool, createPool, withTransaction } from '../src/pool.js';
import {
  claimWarmupEmail,
  completeWarmupEmail,
  freezeWarmupCampaign,
  getWarmupAccount,
  getWarmupCampaign,
  getWarmupDailyStats,
  getWarmupPeer,
  releaseWarmupEmail,
} from '../src/index.js';
import { createTenant, type TenantFixture } from './fixtures.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
  pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '4' }));
});
afterAll(async () => {
  if (pool) await closePool(pool);
  await db?.drop();
});

interface Warm extends TenantFixture {
  account: string;
  warmupCampaignId: string;
  poolId: string;
}

async function warmTenant(label: string, sharedPool?: string): Promise<Warm> {
  const t = await createTenant(pool, label);
  const poolId = sharedPool ?? randomUUID();
  if (!sharedPool) await pool.query(`INSERT INTO warmup_pools (id, workspace_id, name) VALUES ($1, $2, 'p')`, [poolId, t.workspaceId]);
  const account = randomUUID();
  const email = (await pool.query('SELECT email FROM mailboxes WHERE id = $1', [t.mailboxId])).rows[0].email;
  await pool.query(`INSERT INTO warmup_accounts (id, workspace_id, pool_id, mailbox_id, email) VALUES ($1, $2, $3, $4, $5)`, [
    account,
    t.workspaceId,
    poolId,
    t.mailboxId,
    email,
  ]);
  const warmupCampaignId = randomUUID();
  await pool.query(`INSERT INTO warmup_campaigns (id, workspace_id, mailbox_id) VALUES ($1, $2, $3)`, [warmupCampaignId, t.workspaceId, t.mailboxId]);
  return { ...t, account, warmupCampaignId, poolId };
}

let a: Warm;
let b: Warm;
beforeEach(async () => {
  a = await warmTenant('alpha');
  b = await warmTenant('bravo');
});

describe('warm-up access functions', () => {
  it('get* refuse ids of another workspace', async () => {
    expect((await getWarmupCampaign(pool, a.workspaceId, a.warmupCampaignId)).id).toBe(a.warmupCampaignId);
    await expect(getWarmupCampaign(pool, a.workspaceId, b.warmupCampaignId)).rejects.toBeInstanceOf(TenancyError);
    await expect(getWarmupAccount(pool, a.workspaceId, b.account)).rejects.toBeInstanceOf(TenancyError);
    await expect(getWarmupDailyStats(pool, a.workspaceId, b.warmupCampaignId, '2026-12-01')).rejects.toBeInstanceOf(TenancyError);
    await expect(freezeWarmupCampaign(pool, a.workspaceId, b.warmupCampaignId, '2026-12-01', 'x')).rejects.toBeInstanceOf(TenancyError);
    expect((await getWarmupCampaign(pool, b.workspaceId, b.warmupCampaignId)).status).toBe('active');
  });

  it('getWarmupPeer: another workspace only through a shared pool', async () => {
    const sender = await getWarmupAccount(pool, a.workspaceId, a.account);
    await expect(getWarmupPeer(pool, a.workspaceId, sender, b.account)).rejects.toBeInstanceOf(TenancyError);
    const shared = randomUUID();
    await pool.query(`INSERT INTO warmup_pools (id, workspace_id, name) VALUES ($1, NULL, 'shared')`, [shared]);
    await pool.query('UPDATE warmup_accounts SET pool_id = $1 WHERE id = ANY($2::uuid[])', [shared, [a.account, b.account]]);
    const inShared = await getWarmupAccount(pool, a.workspaceId, a.account);
    expect((await getWarmupPeer(pool, a.workspaceId, inShared, b.account)).id).toBe(b.account);
  });

  it('claims a slot once (also after completion), releases, completes with stats; refuses B', async () => {
    const claim = { warmupCampaignId: a.warmupCampaignId, senderAccountId: a.account, recipientAccountId: a.account, key: 'k1', subject: 's' };
    const id = await withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, claim));
    expect(id).toBeTruthy();
    expect(await withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, claim))).toBeNull();
    await completeWarmupEmail(pool, a.workspaceId, {
      id: id!,
      messageId: 'ses-1',
      sentAt: new Date(),
      warmupCampaignId: a.warmupCampaignId,
      senderAccountId: a.account,
      date: '2026-12-01',
    });
    expect(await withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, claim))).toBeNull();
    expect((await getWarmupDailyStats(pool, a.workspaceId, a.warmupCampaignId, '2026-12-01'))?.sent).toBe(1);
    const id2 = await withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, { ...claim, key: 'k2' }));
    await releaseWarmupEmail(pool, a.workspaceId, id2!);
    expect(await withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, { ...claim, key: 'k2' }))).toBeTruthy();
    await expect(withTransaction(pool, (tx) => claimWarmupEmail(tx, a.workspaceId, { ...claim, warmupCampaignId: b.warmupCampaignId }))).rejects.toBeInstanceOf(
      TenancyError,
    );
  });
});
