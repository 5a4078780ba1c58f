import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigError, syncHubspot } from '@coldcopy/queue-core';
import type { Producer } from '@coldcopy/queue-core/producer';
import { readBoundedText, RequestBodyError } from './body.js';
import { producerFromEnv } from './producer-from-env.js';

/**
 * HubSpot's webhook endpoint for the Next.js app. HubSpot posts batches of up to 100 events, signed
 * with `X-HubSpot-Signature-v3`: base64 HMAC-SHA256, keyed by the app's client secret, of
 * `method + URI + body + X-HubSpot-Request-Timestamp`; requests older than five minutes are
 * refused (replays). A webhook only says "something changed" (providers.md §11.2): for each portal
 * in the batch one `sync-hubspot` `webhook` pull is enqueued (one per workspace and minute: a burst
 * of batches is one pull through the cursor), never the events' data. `contact.privacyDeletion`
 * events are the exception: HubSpot erased those contacts, so nothing can be read back; their ids
 * (ids only) go in one `sync-hubspot` job per portal and batch (`privacyDeletions`), which erases
 * the leads. Use with
 * `export const runtime = 'nodejs'`:
 *
 *   // app/api/webhooks/hubspot/route.ts
 *   export const POST = createHubspotWebhookHandler({ workspaceOfPortal: (portalId) => lookUpConnection(portalId) });
 */
export interface HubspotWebhookHandlerOptions {
  /** the workspace whose HubSpot connection is this portal (undefined: not ours, ignored) */
  readonly workspaceOfPortal: (portalId: string) => Promise<string | undefined>;
  /** default `HUBSPOT_CLIENT_SECRET` */
  readonly clientSecret?: string;
  readonly producer?: Pick<Producer, 'enqueue'>;
  /** the public URL HubSpot posts to, when the app sits behind a proxy that rewrites it */
  readonly publicUrl?: string;
  readonly now?: () => number;
  /** default 1 MiB (100 events) */
  readonly maxBodyBytes?: number;
}

const MAX_AGE_MS = 5 * 60_000;

/** `X-HubSpot-Signature-v3` of a request. */
export function hubspotSignatureV3(clientSecret: string, method: string, uri: string, body: string, timestamp: string): string {
  return createHmac('sha256', clientSecret).update(`${method}${uri}${body}${timestamp}`, 'utf8').digest('base64');
}

export function createHubspotWebhookHandler(options: HubspotWebhookHandlerOptions): (request: Request) => Promise<Response> {
  const now = options.now ?? Date.now;
  return async (request) => {
    const secret = options.clientSecret ?? process.env.HUBSPOT_CLIENT_SECRET;
    if (!secret) throw new ConfigError('HUBSPOT_CLIENT_SECRET is not set: HubSpot webhooks cannot be verified');
    if (request.method !== 'POST') return text(405, 'method not allowed');
    let body: string;
    try {
      body = await readBoundedText(request, options.maxBodyBytes ?? 1024 * 1024);
    } catch (err) {
      if (err instanceof RequestBodyError) return text(err.status, err.message);
      throw err;
    }
    const timestamp = request.headers.get('x-hubspot-request-timestamp') ?? '';
    const signature = request.headers.get('x-hubspot-signature-v3') ?? '';
    if (!/^\d{10,16}$/.test(timestamp) || Math.abs(now() - Number(timestamp)) > MAX_AGE_MS) return text(401, 'stale or missing timestamp');
    const uri = decodeURIComponent(options.publicUrl ?? request.url);
    const expected = Buffer.from(hubspotSignatureV3(secret, 'POST', uri, body, timestamp));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return text(401, 'bad signature');
    let events: unknown;
    try {
      events = JSON.parse(body);
    } catch {
      return text(400, 'body is not JSON');
    }
    if (!Array.isArray(events) || events.length > 100) return text(400, 'expected an array of at most 100 events');
    // per portal: a pull for changes; the ids of contacts HubSpot erased (they cannot be read back)
    const portals = new Map<string, { pull: boolean; erased: Set<string> }>();
    for (const e of events as Array<{ portalId?: unknown; subscriptionType?: unknown; objectId?: unknown }>) {
      const portalId = String(e?.portalId ?? '');
      if (!/^\d+$/.test(portalId)) continue;
      const portal = portals.get(portalId) ?? { pull: false, erased: new Set<string>() };
      portals.set(portalId, portal);
      const objectId = String(e.objectId ?? '');
      if (e.subscriptionType === 'contact.privacyDeletion' && /^\d{1,20}$/.test(objectId)) portal.erased.add(objectId);
      else portal.pull = true;
    }
    const slot = new Date(now()).toISOString().replace(/[-:]/g, '').slice(0, 13) + 'Z';
    const producer = options.producer ?? producerFromEnv();
    try {
      for (const [portalId, portal] of portals) {
        const workspaceId = await options.workspaceOfPortal(portalId);
        if (!workspaceId) continue;
        const job = { workspaceId, requestedBy: 'hubspot-webhook', mode: 'webhook', windowSlot: slot } as const;
        if (portal.erased.size) await producer.enqueue(syncHubspot, { ...job, privacyDeletions: [...portal.erased] });
        if (portal.pull) await producer.enqueue(syncHubspot, job);
      }
    } catch (err) {
      // HubSpot retries non-2xx answers for about three days
      return text(503, `could not enqueue: ${(err as Error).name}`);
    }
    return new Response(null, { status: 204 });
  };
}

function text(status: number, message: string): Response {
  return new Response(message, { status, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}
