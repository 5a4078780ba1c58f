import { randomUUID } from 'node:crypto';
import { closePool, createPool, enqueueOutbox, loadDbEnv, type Pool, saveIntegrationConnection, withTransaction } from '@coldcopy/db';
import type { AnyJobDefinition, JobInput } from '@coldcopy/queue-core';
import { JobSecurity } from '@coldcopy/queue-core/producer';
import { createRateLimiter, loadEnv, type Worker } from '@coldcopy/queue-core/runtime';
import { type AppTestBase, useAppTestBase, waitFor } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import { createTokenCipher, tokenBinding } from '../src/crypto/token-cipher.js';
import { buildDeps, type IntegrationDeps, type IntegrationEnv } from '../src/deps.js';
import { type HubspotEmulator, startHubspotEmulator } from '../src/emulators/hubspot-emulator.js';
import { type OAuthEmulator, startOAuthEmulator } from '../src/emulators/oauth-emulator.js';
import { type SalesforceEmulator, startSalesforceEmulator } from '../src/emulators/salesforce-emulator.js';
import { envSchema } from '../src/env.js';
import { createProviderBudget, type ProviderBudget } from '../src/providers/budgets.js';
import { definitions, dispatchedHandlers } from '../src/handlers/index.js';
import { CLIENT_ID, CLIENT_SECRET, TEST_SIGNING_KEYS, TEST_TOKEN_KEYS } from './keys.js';

export const testSecurity = () => new JobSecurity({ signingKeys: TEST_SIGNING_KEYS });

/**
 * One test database, one OAuth and one HubSpot emulator per file; a Bull/Redis prefix per test.
 * The deps are the real ones (env parsed by the app's schema, the SDK over a socket, Redis budgets
 * and locks, Postgres), pointed at the emulators.
 */
export function useIntegrationHarness(options: { hubspot?: { perTenSeconds?: number; searchCap?: number; searchPerSecond?: number } } = {}) {
  const state = {} as AppTestBase<Pool> & {
    oauth: OAuthEmulator;
    hubspot: HubspotEmulator;
    salesforce: SalesforceEmulator;
  };
  useAppTestBase(state, { openPool: (url) => createPool(loadDbEnv({ DATABASE_URL: url, DATABASE_POOL_MAX: '16' })), closePool, security: testSecurity });
  beforeAll(async () => {
    state.oauth = await startOAuthEmulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    state.hubspot = await startHubspotEmulator({ oauth: state.oauth, perTenSeconds: 1000, searchPerSecond: 100, ...options.hubspot });
    state.salesforce = await startSalesforceEmulator({ oauth: state.oauth });
  });
  afterAll(async () => {
    await state.salesforce?.close();
    await state.hubspot?.close();
    await state.oauth?.close();
  });
  beforeEach(() => {
    for (const e of [state.oauth, state.hubspot, state.salesforce]) {
      e.requests.length = 0;
      e.clearFaults();
    }
    state.salesforce.delayMs = 0;
  });

  /** The app's env as a deployment would set it, pointed at the emulators; `over` replaces any variable. */
  function env(over: Record<string, string> = {}): IntegrationEnv {
    return loadEnv(envSchema, {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: state.prefix,
      DATABASE_URL: state.db.url,
      INTEGRATION_TOKEN_KEYS: TEST_TOKEN_KEYS,
      HUBSPOT_BASE_URL: state.hubspot.url,
      HUBSPOT_TOKEN_URL: `${state.oauth.url}/oauth/v3/token`,
      HUBSPOT_CLIENT_ID: CLIENT_ID,
      HUBSPOT_CLIENT_SECRET: CLIENT_SECRET,
      SALESFORCE_TOKEN_URL: `${state.salesforce.url}/services/oauth2/token`,
      SALESFORCE_CLIENT_ID: CLIENT_ID,
      SALESFORCE_CLIENT_SECRET: CLIENT_SECRET,
      SALESFORCE_LIMIT_BACKOFF_MS: '500',
      HUBSPOT_TEN_SECONDLY_WAIT_MS: '300',
      OUTBOX_RETRY_MS: '200',
      SYNC_LEASE_MS: '30000',
      ...over,
    }) as IntegrationEnv;
  }

  /** A shared provider budget on the test's prefix, without rate limits (the tests drive holds and 429s). */
  function budget(maxWaitMs: number): ProviderBudget {
    return createProviderBudget({
      redis: state.redis,
      limiter: createRateLimiter(state.redis, { prefix: `${state.prefix}:rate` }),
      prefix: `${state.prefix}:integration`,
      limits: {},
      maxWaitMs,
    });
  }

  /** Real deps on their own Redis connection (one per simulated replica). */
  function deps(over: Record<string, string> = {}): IntegrationDeps {
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    state.defer(() => redis.disconnect());
    return buildDeps({ pool: state.pool, redis, prefix: `${state.prefix}:integration`, env: env(over) });
  }

  function worker(d: IntegrationDeps, concurrency = 5): Promise<Worker> {
    const locks = { lockDuration: 10_000, stalledInterval: 5000 };
    return state.startWorker({ queue: 'integration', handlers: dispatchedHandlers, definitions, deps: d, concurrency, locks });
  }

  /** Enqueues through the real producer and waits for the final state (retries included). */
  async function run<J extends AnyJobDefinition>(w: Worker, def: J, input: JobInput<J>) {
    const { id } = await state.producer.enqueue(def, input);
    return settle(w, id);
  }

  async function settle(w: Worker, id: string) {
    let last = '';
    try {
      return await waitFor(
        async () => {
          // its fields are read after its state, so never older than the move to the final state
          const job = await w.inspect.job<Record<string, unknown>>(id);
          const s = job?.state;
          last = `${s}, ${job?.attemptsMade} attempts, last error: ${job?.failedReason ?? 'none'}`;
          if (s !== 'completed' && s !== 'failed') return false;
          return { state: s, value: job!.returnValue!, reason: job!.failedReason ?? '', attempts: job!.attemptsMade };
        },
        { timeoutMs: 120_000, intervalMs: 100, what: `job ${id} settled` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message} (${last})`, { cause: err });
    }
  }

  /** A workspace with a HubSpot (or Salesforce) connection (tokens granted by the OAuth emulator, stored encrypted) and `n` leads in the outbox. */
  async function seed(opts: { leads?: number; portal?: string; expired?: boolean; timeZone?: string; provider?: 'hubspot' | 'salesforce' } = {}) {
    const provider = opts.provider ?? 'hubspot';
    const workspaceId = randomUUID();
    const portal = opts.portal ?? `portal-${workspaceId.slice(0, 8)}`;
    await state.pool.query(`INSERT INTO workspaces (id, name, slug, status) VALUES ($1, 'Sync Co', $2, 'active')`, [
      workspaceId,
      `ws-${workspaceId.slice(0, 8)}`,
    ]);
    const grant = state.oauth.grant(portal);
    if (opts.expired) state.oauth.expire(portal);
    const cipher = createTokenCipher(TEST_TOKEN_KEYS);
    const connectionId = randomUUID();
    await state.pool.query(`INSERT INTO integration_connections (id, workspace_id, provider) VALUES ($1, $2, $3)`, [connectionId, workspaceId, provider]);
    await saveIntegrationConnection(state.pool, workspaceId, {
      provider,
      portalId: portal,
      ...(provider === 'salesforce' ? { instanceUrl: state.salesforce.url } : {}),
      settings: { timeZone: opts.timeZone ?? 'UTC' },
      tokens: {
        accessToken: cipher.encrypt(grant.accessToken, tokenBinding('integration_connections', connectionId, 'access')),
        refreshToken: cipher.encrypt(grant.refreshToken, tokenBinding('integration_connections', connectionId, 'refresh')),
        keyId: cipher.currentKeyId,
        expiresAt: new Date(Date.now() + (opts.expired ? -60_000 : grant.expiresIn * 1000)),
      },
    });
    const n = opts.leads ?? 0;
    const leads = Array.from({ length: n }, (_, i) => ({
      id: randomUUID(),
      email: `lead${i}.${workspaceId.slice(0, 6)}@acme.com`,
      first: `First${i}`,
      last: `Last${i}`,
    }));
    if (n) {
      await withTransaction(state.pool, async (tx) => {
        await tx.query(
          `INSERT INTO leads (id, workspace_id, email, first_name, last_name, company)
           SELECT id, $1, email, f, l, 'Acme' FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[]) AS t(id, email, f, l)`,
          [workspaceId, leads.map((l) => l.id), leads.map((l) => l.email), leads.map((l) => l.first), leads.map((l) => l.last)],
        );
        await enqueueOutbox(tx, workspaceId, { provider, objectType: 'contacts', operation: 'upsert', localIds: leads.map((l) => l.id) });
      });
    }
    return { workspaceId, portal, grant, connectionId, leads };
  }

  return Object.assign(state, { env, deps, budget, worker, run, settle, seed });
}
