import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { enrichLead } from '@coldcopy/queue-core';
import { waitFor } from '@coldcopy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpsCallbackNotifier } from '../src/providers/callback.js';
import { useEnrichmentHarness } from './harness.js';

/**
 * enrich-lead's optional callback against a real https server on 127.0.0.1 (a self-signed test
 * certificate for 127.0.0.1 and localhost, test/fixtures): delivered when loopback is allowed
 * (development), refused by default (SSRF), and never a failure of the job.
 */
const h = useEnrichmentHarness();
const CERT = readFileSync(new URL('./fixtures/callback-test-cert.pem', import.meta.url), 'utf8');
const KEY = readFileSync(new URL('./fixtures/callback-test-key.pem', import.meta.url), 'utf8');

interface Received {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}
const received: Received[] = [];
let answer: 'ok' | 'error' | 'hang' = 'ok';
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer({ cert: CERT, key: KEY }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (answer === 'hang') return; // no answer: the notifier's timeout ends it
      res.writeHead(answer === 'ok' ? 204 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const devNotifier = (timeoutMs = 5000) => createHttpsCallbackNotifier({ allowPrivate: true, timeoutMs, ca: [CERT] });

let runs = 0;
async function run(callbackUrl: string, notifier = devNotifier()) {
  runs += 1;
  const { deps } = h.deps({ callbacks: notifier });
  const w = await h.worker(deps, 2);
  // a new person each run: no cache hit from an earlier one
  const { workspaceId, leads } = await h.seed({ leads: 1, names: () => [`callback${runs}`, 'lead'] });
  const job = await h.producer.enqueue(enrichLead, {
    workspaceId,
    requestedBy: 'test',
    leadId: leads[0]!.id,
    providerId: h.hunterId,
    enrichmentTypes: ['email'],
    callbackUrl,
  });
  const done = await waitFor(
    async () => {
      // its fields are read after its state: never older than it
      const j = await w.inspect.job<Record<string, unknown>>(job.id);
      if (j?.state !== 'completed' && j?.state !== 'failed') return false;
      return { state: j.state, value: j.returnValue, reason: j.failedReason ?? undefined };
    },
    { timeoutMs: 60_000, intervalMs: 50, what: 'enrich-lead settled' },
  );
  return { ...done, lead: leads[0]!, workspaceId };
}

describe('enrich-lead callback webhook', () => {
  it('development (loopback allowed): one POST with ids and status, keyed by the request, no address in it', async () => {
    received.length = 0;
    answer = 'ok';
    const r = await run(`https://127.0.0.1:${port}/hooks/enriched?t=1`);
    expect(r.state).toBe('completed');
    expect(r.value).toMatchObject({ status: 'enriched', callback: 'delivered' });
    expect(received).toHaveLength(1);
    const hit = received[0]!;
    expect(hit.path).toBe('/hooks/enriched?t=1');
    expect(hit.headers['content-type']).toBe('application/json');
    expect(hit.headers['idempotency-key']).toEqual(expect.any(String));
    expect(JSON.parse(hit.body)).toMatchObject({
      event: 'lead.enrichment.completed',
      workspaceId: r.workspaceId,
      leadId: r.lead.id,
      status: 'enriched',
      types: ['email'],
    });
    expect(hit.body).not.toContain('@');
  });

  it('by default loopback is refused, by address and by name, and the job still succeeds', async () => {
    received.length = 0;
    answer = 'ok';
    const strict = createHttpsCallbackNotifier({ allowPrivate: false, timeoutMs: 5000, ca: [CERT] });
    const byAddress = await run(`https://127.0.0.1:${port}/x`, strict);
    expect(byAddress.state).toBe('completed');
    expect(byAddress.value).toMatchObject({ status: 'enriched', callback: 'refused-address' });
    const byName = await run(`https://localhost:${port}/x`, strict);
    expect(byName.value).toMatchObject({ status: 'enriched', callback: 'refused-address' });
    expect(received).toHaveLength(0);
  });

  it('a receiver that answers 500 or never answers does not fail the job', async () => {
    received.length = 0;
    answer = 'error';
    const failing = await run(`https://127.0.0.1:${port}/500`);
    expect(failing.state).toBe('completed');
    expect(failing.value).toMatchObject({ status: 'enriched', callback: 'status' });
    answer = 'hang';
    const hanging = await run(`https://127.0.0.1:${port}/hang`, devNotifier(300));
    expect(hanging.state).toBe('completed');
    expect(hanging.value).toMatchObject({ status: 'enriched', callback: 'failed' });
    expect(received.map((r) => r.path)).toEqual(['/500', '/hang']);
  });

  it('only https URLs are accepted at enqueue time', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 1 });
    await expect(
      h.producer.enqueue(enrichLead, {
        workspaceId,
        requestedBy: 'test',
        leadId: leads[0]!.id,
        providerId: h.hunterId,
        enrichmentTypes: ['email'],
        callbackUrl: `http://127.0.0.1:${port}/x`,
      }),
    ).rejects.toThrow(/callbackUrl/);
  });
});
