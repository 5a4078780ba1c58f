import { describe, expect, it } from 'vitest';
import { createHubspotWebhookHandler, hubspotSignatureV3 } from './hubspot-webhook.js';

const SECRET = 'hubspot-client-secret';
const URL_ = 'https://app.example.com/api/webhooks/hubspot';
const NOW = Date.parse('2026-12-06T05:37:12Z');
const WS = '00000000-0000-4000-8000-00000000000a';

function setup(fail = false) {
  const calls: Array<{ name: string; data: Record<string, unknown> }> = [];
  const producer = {
    async enqueue(def: { name: string }, data: unknown) {
      if (fail) throw Object.assign(new Error('Redis down'), { name: 'QueueUnavailableError' });
      calls.push({ name: def.name, data: data as Record<string, unknown> });
      return { id: 'j', queue: 'integration' as const, name: def.name };
    },
  };
  const handler = createHubspotWebhookHandler({
    clientSecret: SECRET,
    producer: producer as never,
    now: () => NOW,
    workspaceOfPortal: async (p) => (p === '62515' ? WS : undefined),
  });
  return { calls, handler };
}

const events = JSON.stringify([
  {
    eventId: 1,
    subscriptionId: 7,
    portalId: 62515,
    occurredAt: NOW - 1000,
    subscriptionType: 'contact.propertyChange',
    attemptNumber: 0,
    objectId: 123,
    propertyName: 'firstname',
    propertyValue: 'Ada',
  },
  { eventId: 2, subscriptionId: 7, portalId: 62515, occurredAt: NOW - 900, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 124 },
  { eventId: 3, subscriptionId: 7, portalId: 99999, occurredAt: NOW - 900, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 9 },
]);

const post = (body: string, headers: Record<string, string>) =>
  new Request(URL_, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
const signed = (body: string, ts = String(NOW), secret = SECRET) => ({
  'x-hubspot-request-timestamp': ts,
  'x-hubspot-signature-v3': hubspotSignatureV3(secret, 'POST', URL_, body, ts),
});

describe('HubSpot webhook request handler', () => {
  it('checks X-HubSpot-Signature-v3 and enqueues one webhook pull per known portal, without the event data', async () => {
    const { calls, handler } = setup();
    const res = await handler(post(events, signed(events)));
    expect(res.status).toBe(204);
    expect(calls).toEqual([{ name: 'sync-hubspot', data: { workspaceId: WS, requestedBy: 'hubspot-webhook', mode: 'webhook', windowSlot: '20261206T0537Z' } }]);
  });

  it('sends the ids of contacts HubSpot erased (contact.privacyDeletion) in their own job, apart from the pull, and nothing else of the events', async () => {
    const { calls, handler } = setup();
    const body = JSON.stringify([
      { eventId: 4, subscriptionId: 8, portalId: 62515, occurredAt: NOW - 800, subscriptionType: 'contact.privacyDeletion', attemptNumber: 0, objectId: 501 },
      { eventId: 5, subscriptionId: 8, portalId: 62515, occurredAt: NOW - 700, subscriptionType: 'contact.privacyDeletion', attemptNumber: 0, objectId: 502 },
      { eventId: 6, subscriptionId: 7, portalId: 62515, occurredAt: NOW - 600, subscriptionType: 'contact.creation', attemptNumber: 0, objectId: 503 },
      { eventId: 7, subscriptionId: 8, portalId: 99999, occurredAt: NOW - 600, subscriptionType: 'contact.privacyDeletion', attemptNumber: 0, objectId: 9 },
    ]);
    const res = await handler(post(body, signed(body)));
    expect(res.status).toBe(204);
    const job = { workspaceId: WS, requestedBy: 'hubspot-webhook', mode: 'webhook', windowSlot: '20261206T0537Z' };
    expect(calls).toEqual([
      { name: 'sync-hubspot', data: { ...job, privacyDeletions: ['501', '502'] } },
      { name: 'sync-hubspot', data: job },
    ]);
  });

  it('refuses a wrong secret, a changed body, a replayed timestamp and a missing signature, enqueuing nothing', async () => {
    const { calls, handler } = setup();
    const old = String(NOW - 6 * 60_000);
    const answers = await Promise.all([
      handler(post(events, signed(events, String(NOW), 'other-secret'))),
      handler(post(events.replace('Ada', 'Eve'), signed(events))),
      handler(post(events, signed(events, old))),
      handler(post(events, {})),
    ]);
    expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect(calls).toEqual([]);
  });

  it('answers 503 when the queue is down, so HubSpot retries', async () => {
    const { handler } = setup(true);
    expect((await handler(post(events, signed(events)))).status).toBe(503);
  });
});
