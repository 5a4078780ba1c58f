import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@coldcopy/testing';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, expect, inject } from 'vitest';
import { loadDbEnv } from '../src/env.js';
import { TenancyError } from '../src/errors.js';
import { closePool, createPool, type Queryable } from '../src/pool.js';

export interface TenantFixture {
  workspaceId: string;
  mailboxId: string;
  campaignId: string;
  leadId: string;
  leadEmail: string;
  enrolmentId: string;
  /** a scheduled send of step 1 */
  campaignEmailId: string;
}

/** A small workspace: one mailbox, a 3-step campaign, one enrolled lead with a scheduled send. */
export async function createTenant(db: Queryable, label: string): Promise<TenantFixture> {
  const workspaceId = randomUUID();
  const slug = `${label}-${workspaceId.slice(0, 8)}`;
  await db.query(`INSERT INTO workspaces (id, name, slug, status, settings) VALUES ($1, $2, $3, 'active', $4)`, [
    workspaceId,
    `Workspace ${label}`,
    slug,
    { email: { sender_email: `hello@${slug}.example`, sender_name: label } },
  ]);
  const mailboxId = randomUUID();
  await db.query(`INSERT INTO mailboxes (id, workspace_id, email, domain, status) VALUES ($1, $2, $3, $4, 'active')`, [
    mailboxId,
    workspaceId,
    `sender@${slug}.example`,
    `${slug}.example`,
  ]);
  const campaignId = randomUUID();
  await db.query(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, $3, 'active')`, [campaignId, workspaceId, `Campaign ${label}`]);
  for (const step of [1, 2, 3]) {
    await db.query(
      `INSERT INTO campaign_sequences (workspace_id, campaign_id, step_number, subject, body, delay_days)
       VALUES ($1, $2, $3, $4, 'Hi {{first_name}}', $5)`,
      [workspaceId, campaignId, step, `Step ${step}`, step === 1 ? 0 : 2],
    );
  }
  await db.query(`INSERT INTO campaign_mailboxes (workspace_id, campaign_id, mailbox_id) VALUES ($1, $2, $3)`, [workspaceId, campaignId, mailboxId]);
  const leadId = randomUUID();
  const leadEmail = `lead@${slug}.example`;
  await db.query(`INSERT INTO leads (id, workspace_id, email, first_name) VALUES ($1, $2, $3, 'Ada')`, [leadId, workspaceId, leadEmail]);
  const enrolmentId = randomUUID();
  await db.query(
    `INSERT INTO campaign_leads (id, workspace_id, campaign_id, lead_id, status, next_email_at)
     VALUES ($1, $2, $3, $4, 'pending', now() - interval '1 minute')`,
    [enrolmentId, workspaceId, campaignId, leadId],
  );
  const campaignEmailId = randomUUID();
  await db.query(
    `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, mailbox_id, status)
     VALUES ($1, $2, $3, $4, 1, $5, 'scheduled')`,
    [campaignEmailId, workspaceId, campaignId, leadId, mailboxId],
  );
  return { workspaceId, mailboxId, campaignId, leadId, leadEmail, enrolmentId, campaignEmailId };
}

/** Tables whose rows of a workspace are fingerprinted by `fingerprintOf`. */
const WORKSPACE_TABLES = [
  'workspaces',
  'mailboxes',
  'campaigns',
  'campaign_sequences',
  'campaign_leads',
  'campaign_emails',
  'leads',
  'suppression_list',
  'webhook_dedupe',
] as const;

/** Every row of a workspace (plus the number of its events), hashed: any write shows up. */
export async function fingerprintOf(db: Queryable, workspaceId: string): Promise<string> {
  const parts: string[] = [];
  for (const table of WORKSPACE_TABLES) {
    const column = table === 'workspaces' ? 'id' : 'workspace_id';
    const { rows } = await db.query<{ h: string | null }>(`SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${table} t WHERE ${column} = $1`, [
      workspaceId,
    ]);
    parts.push(`${table}:${rows[0]?.h ?? ''}`);
  }
  const events = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM email_events WHERE workspace_id = $1', [workspaceId]);
  parts.push(`events:${events.rows[0]!.n}`);
  return parts.join(';');
}

export interface TwoTenants {
  /** a pool on this test file's private database */
  readonly pool: pg.Pool;
  /** fresh for every test */
  readonly a: TenantFixture;
  readonly b: TenantFixture;
  /**
   * Calls `fn` (workspace A's job using B's ids) and asserts TenancyError for A, permanent, and no
   * change to any row of B.
   */
  expectRefused(fn: () => Promise<unknown>): Promise<TenancyError>;
}

/**
 * For a test file about workspace isolation: a private database (from the migrated template) with
 * a pool, created before the file's tests and dropped after them, and two fresh tenants A and B
 * before each test. Read the fields inside the tests: they change from test to test.
 */
export function useTwoTenants(): TwoTenants {
  let db: TestDatabase | undefined;
  const state = {} as { pool: pg.Pool; a: TenantFixture; b: TenantFixture };
  beforeAll(async () => {
    db = await createTestDatabase(inject('databaseUrl'), inject('databaseTemplate'));
    state.pool = createPool(loadDbEnv({ DATABASE_URL: db.url, DATABASE_POOL_MAX: '4' }));
  });
  afterAll(async () => {
    if (state.pool) await closePool(state.pool);
    await db?.drop();
  });
  beforeEach(async () => {
    state.a = await createTenant(state.pool, 'alpha');
    state.b = await createTenant(state.pool, 'bravo');
  });
  return {
    get pool() {
      return state.pool;
    },
    get a() {
      return state.a;
    },
    get b() {
      return state.b;
    },
    async expectRefused(fn) {
      const before = await fingerprintOf(state.pool, state.b.workspaceId);
      const error = await fn().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(TenancyError);
      expect((error as TenancyError).workspaceId).toBe(state.a.workspaceId);
      expect((error as TenancyError).permanent).toBe(true);
      expect(await fingerprintOf(state.pool, state.b.workspaceId)).toBe(before);
      return error as TenancyError;
    },
  };
}
