import { randomUUID } from 'node:crypto';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sample, signEnvelope } from '@coldcopy/sns/testing';
import sesLocalModule from 'aws-ses-v2-local';

/**
 * A local stand-in for SES with its event publishing: an SES-compatible HTTP endpoint in front of
 * aws-ses-v2-local (which accepts and stores mail but publishes no events, email-ses-sns.md §4)
 * that, for every message the emulator accepts, posts SNS-signed notifications (the test
 * certificate of @coldcopy/sns/testing) to a webhook, the way a configuration set with an SNS
 * event destination would: `Send` and `Delivery`, and `Bounce`, `Complaint`, `DeliveryDelay`,
 * `Open`, `Click` chosen by the recipient address as SES's mailbox simulator does (see
 * simulatedEvents). It learns of accepted messages by being the endpoint the SDK talks to: each
 * request is forwarded, and an answer with a MessageId to SendRawEmail or SendEmail (SES v1, what
 * the worker uses) schedules that message's events. Every request is kept with its arrival time
 * (the tests read headers and rates from them).
 */

export type SimulatedEvent = 'Send' | 'Delivery' | 'Bounce' | 'Complaint' | 'DeliveryDelay' | 'Open' | 'Click';

export const SIMULATOR_DOMAIN = 'simulator.amazonses.com';

/**
 * The events SES would publish for one recipient, in order. Any address: Send, Delivery. At
 * simulator.amazonses.com, as SES's mailbox simulator: `success@` delivered; `bounce@` a permanent
 * (General) bounce and no delivery; `complaint@` delivered, then a complaint; `suppressionlist@` a
 * permanent bounce of subtype OnAccountSuppressionList; `ooto@` delivered (SES's out-of-office
 * answer is inbound mail, not an event). Labels after `+` (SES accepts any, e.g.
 * `success+lead-7@`) add, as this simulator's own extension: `delay` a DeliveryDelay before the
 * delivery, `open` an Open, `click` an Open and a Click.
 */
export function simulatedEvents(recipient: string): SimulatedEvent[] {
  const [local = '', domain = ''] = recipient.trim().toLowerCase().split('@');
  if (domain !== SIMULATOR_DOMAIN) return ['Send', 'Delivery'];
  const [box = '', ...labels] = local.split('+');
  const has = (label: string) => labels.some((l) => l.split(/[.+-]/).includes(label));
  const events: SimulatedEvent[] = ['Send'];
  if (has('delay')) events.push('DeliveryDelay');
  if (box === 'bounce' || box === 'suppressionlist') return [...events, 'Bounce'];
  events.push('Delivery');
  if (box === 'complaint') events.push('Complaint');
  if (has('open') || has('click')) events.push('Open');
  if (has('click')) events.push('Click');
  return events;
}

/** What the simulator knows of one accepted message (from the request and the emulator's answer). */
export interface AcceptedMessage {
  readonly messageId: string;
  readonly acceptedAt: Date;
  readonly action: 'SendRawEmail' | 'SendEmail';
  readonly source: string;
  readonly destinations: readonly string[];
  readonly configurationSet: string | undefined;
  /** the request's message tags (send_id, workspace_id, …) */
  readonly tags: Readonly<Record<string, string>>;
  readonly subject: string | undefined;
}

const ACCOUNT = '000000000000';

/** The SES event record (the SNS `Message`) of one event, built on AWS's published samples. */
export function sesEventRecord(type: SimulatedEvent, message: AcceptedMessage, recipient: string, at: Date): Record<string, unknown> {
  const timestamp = at.toISOString();
  const domain = message.source.split('@')[1] ?? 'example.com';
  const mail = {
    timestamp: message.acceptedAt.toISOString(),
    source: message.source,
    sourceArn: `arn:aws:ses:us-east-1:${ACCOUNT}:identity/${domain}`,
    sendingAccountId: ACCOUNT,
    messageId: message.messageId,
    destination: [...message.destinations],
    headersTruncated: false,
    commonHeaders: {
      from: [message.source],
      to: [...message.destinations],
      messageId: message.messageId,
      ...(message.subject ? { subject: message.subject } : {}),
    },
    tags: {
      'ses:operation': [message.action],
      'ses:configuration-set': [message.configurationSet ?? 'default'],
      'ses:from-domain': [domain],
      'ses:caller-identity': ['simulator'],
      ...Object.fromEntries(Object.entries(message.tags).map(([k, v]) => [k, [v]])),
    },
  };
  const feedbackId = `${randomUUID()}-000000`;
  switch (type) {
    case 'Send':
      return { eventType: 'Send', mail, send: {} };
    case 'Delivery':
      return {
        eventType: 'Delivery',
        mail,
        delivery: {
          timestamp,
          processingTimeMillis: Math.max(0, at.getTime() - message.acceptedAt.getTime()),
          recipients: [recipient],
          smtpResponse: '250 2.6.0 Message received',
          reportingMTA: 'a8-70.smtp-out.amazonses.com',
        },
      };
    case 'Bounce': {
      const suppressed = recipient.toLowerCase().startsWith('suppressionlist');
      return {
        eventType: 'Bounce',
        mail,
        bounce: {
          bounceType: 'Permanent',
          bounceSubType: suppressed ? 'OnAccountSuppressionList' : 'General',
          bouncedRecipients: [
            suppressed
              ? {
                  emailAddress: recipient,
                  action: 'failed',
                  status: '5.1.1',
                  diagnosticCode: 'Amazon SES did not send the message to this address because it is on the suppression list for your account.',
                }
              : { emailAddress: recipient, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' },
          ],
          timestamp,
          feedbackId,
          ...(suppressed ? {} : { reportingMTA: 'dsn; a8-70.smtp-out.amazonses.com' }),
        },
      };
    }
    case 'Complaint':
      return {
        eventType: 'Complaint',
        mail,
        complaint: {
          complainedRecipients: [{ emailAddress: recipient }],
          timestamp,
          feedbackId,
          complaintSubType: null,
          userAgent: 'Mozilla/5.0',
          complaintFeedbackType: 'abuse',
          arrivalDate: timestamp,
        },
      };
    case 'DeliveryDelay': {
      const delay = (sample('ses-event-delivery-delay.json') as { deliveryDelay: Record<string, unknown> }).deliveryDelay;
      return {
        eventType: 'DeliveryDelay',
        mail,
        deliveryDelay: {
          ...delay,
          timestamp,
          expirationTime: new Date(at.getTime() + 3_600_000).toISOString(),
          delayedRecipients: [{ emailAddress: recipient, status: '4.4.1', diagnosticCode: 'smtp; 421 4.4.1 Unable to connect to remote host' }],
        },
      };
    }
    case 'Open':
      return { eventType: 'Open', mail, open: { ipAddress: '192.0.2.1', timestamp, userAgent: 'Mozilla/5.0 (simulator)' } };
    case 'Click':
      return {
        eventType: 'Click',
        mail,
        click: { ipAddress: '192.0.2.1', timestamp, userAgent: 'Mozilla/5.0 (simulator)', link: 'https://example.com/', linkTags: {} },
      };
  }
}

/** The SNS Notification POST body for one SES event record, signed with the test certificate. */
export function snsNotificationBody(record: Record<string, unknown>, topicArn: string, at = new Date()): { body: string; messageId: string } {
  const messageId = randomUUID();
  const envelope = signEnvelope({
    Type: 'Notification',
    MessageId: messageId,
    TopicArn: topicArn,
    Message: JSON.stringify(record),
    Timestamp: at.toISOString(),
    UnsubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:${randomUUID()}`,
  });
  return { body: JSON.stringify(envelope), messageId };
}

export interface RecordedRequest {
  /** Date.now() when the request reached the simulator */
  readonly at: number;
  readonly form: URLSearchParams;
}

export interface SesSimulatorOptions {
  /** URL of an aws-ses-v2-local already running; default: one started here on a free port */
  readonly upstream?: string;
  /** where the notifications go (POST, as SNS does); without it nothing is published */
  readonly webhookUrl?: string;
  /** the SNS topic the notifications come from (the worker accepts only SNS_TOPIC_ARNS) */
  readonly topicArn?: string;
  /** pause between a message's events (default 20 ms): Delivery after Send, like SES, not at once */
  readonly eventGapMs?: number;
  /** retry pauses of a failed POST (non-2xx or no answer), the last repeated (default 200 ms doubling to 5 s) */
  readonly retryDelaysMs?: readonly number[];
  /** give a notification up after this long (default 30 minutes; SNS's default policy gives up sooner) */
  readonly giveUpAfterMs?: number;
  /**
   * Holds each answer this long after the emulator accepted the message (SES latency; a switchable
   * fault: setResponseDelay). The message is accepted, and its events published, meanwhile.
   */
  readonly responseDelayMs?: number;
  /** the port to listen on (default: a free one) */
  readonly port?: number;
  readonly host?: string;
  /** told of each notification that could not be delivered in time */
  readonly onGiveUp?: (event: { type: SimulatedEvent; messageId: string; error: string }) => void;
}

export interface SesSimulator {
  /** the endpoint to give the SES client */
  readonly url: string;
  /** the aws-ses-v2-local behind it */
  readonly upstream: string;
  /** every SES API request, in arrival order */
  readonly requests: RecordedRequest[];
  /** every message accepted */
  readonly accepted: AcceptedMessage[];
  /** notifications delivered (2xx), failed for good, and not yet settled */
  stats(): { accepted: number; delivered: number; gaveUp: number; pending: number; byType: Record<string, number> };
  /** resolves once every notification scheduled so far is delivered or given up */
  idle(): Promise<void>;
  /** the answer delay from now on (responseDelayMs) */
  setResponseDelay(ms: number): void;
  /** stops publishing (requests are still answered): the webhook sees nothing until resumed */
  pausePublishing(): void;
  resumePublishing(): void;
  clear(): Promise<void>;
  close(): Promise<void>;
}

const DEFAULT_RETRY = [200, 400, 800, 1600, 3200, 5000];

/** aws-ses-v2-local on a free loopback port (or `port`). */
export async function startSesEmulator(options: { host?: string; port?: number } = {}): Promise<{ url: string; close(): Promise<void> }> {
  // Node's ESM loader gives the CommonJS exports object (call its .default, email-ses-sns.md §4);
  // vitest's interop already unwraps it to the function.
  type Start = (c: { host: string; port: number }) => Promise<Server>;
  const mod = sesLocalModule as unknown as Start | { default: Start };
  const start = typeof mod === 'function' ? mod : mod.default;
  const host = options.host ?? '127.0.0.1';
  const emulator = await start({ host, port: options.port ?? 0 });
  if (!emulator.listening) await new Promise((r) => emulator.once('listening', r));
  // Its idle kept-alive sockets stay open 2 minutes, longer than the proxy's agent keeps them.
  emulator.keepAliveTimeout = 120_000;
  emulator.headersTimeout = 125_000;
  return {
    url: `http://${host}:${(emulator.address() as AddressInfo).port}`,
    async close() {
      emulator.closeAllConnections();
      await new Promise((r) => emulator.close(r));
    },
  };
}

/** The request's message: destinations, tags, configuration set, subject (from the raw MIME's headers). */
function acceptedFrom(form: URLSearchParams, messageId: string, at: Date): AcceptedMessage {
  const action = form.get('Action') === 'SendEmail' ? 'SendEmail' : 'SendRawEmail';
  const list = (prefix: string) => {
    const out: string[] = [];
    for (let i = 1; form.has(`${prefix}.member.${i}`); i++) out.push(form.get(`${prefix}.member.${i}`)!);
    return out;
  };
  const tags: Record<string, string> = {};
  for (let i = 1; form.has(`Tags.member.${i}.Name`); i++) tags[form.get(`Tags.member.${i}.Name`)!] = form.get(`Tags.member.${i}.Value`) ?? '';
  let destinations =
    action === 'SendEmail'
      ? [...list('Destination.ToAddresses'), ...list('Destination.CcAddresses'), ...list('Destination.BccAddresses')]
      : list('Destinations');
  let subject = form.get('Message.Subject.Data') ?? undefined;
  let source = form.get('Source') ?? '';
  if (action === 'SendRawEmail') {
    const raw = Buffer.from(form.get('RawMessage.Data') ?? '', 'base64').toString('utf8');
    const head = raw.split(/\r?\n\r?\n/, 1)[0]!.replace(/\r?\n[ \t]+/g, ' ');
    const header = (name: string) =>
      head
        .split(/\r?\n/)
        .find((l) => l.toLowerCase().startsWith(`${name}:`))
        ?.slice(name.length + 1)
        .trim();
    subject = header('subject');
    if (!source) source = /<([^>]+)>/.exec(header('from') ?? '')?.[1] ?? header('from') ?? '';
    if (destinations.length === 0)
      destinations = (header('to') ?? '')
        .split(',')
        .map((a) => /<([^>]+)>/.exec(a)?.[1] ?? a.trim())
        .filter(Boolean);
  }
  return { messageId, acceptedAt: at, action, source, destinations, configurationSet: form.get('ConfigurationSetName') ?? undefined, tags, subject };
}

/** Starts the simulator (and an aws-ses-v2-local behind it unless `upstream` is given). */
export async function startSesSimulator(options: SesSimulatorOptions = {}): Promise<SesSimulator> {
  const emulator = options.upstream ? undefined : await startSesEmulator();
  const upstream = options.upstream ?? emulator!.url;
  const upstreamUrl = new URL(upstream);
  const topicArn = options.topicArn ?? `arn:aws:sns:us-east-1:${ACCOUNT}:ses-events`;
  const gapMs = options.eventGapMs ?? 20;
  const retry = options.retryDelaysMs?.length ? options.retryDelaysMs : DEFAULT_RETRY;
  const giveUpAfterMs = options.giveUpAfterMs ?? 30 * 60_000;
  const requests: RecordedRequest[] = [];
  const accepted: AcceptedMessage[] = [];
  const counts = { delivered: 0, gaveUp: 0, pending: 0, byType: {} as Record<string, number> };
  let idleWaiters: Array<() => void> = [];
  let paused = false;
  let resumeWaiters: Array<() => void> = [];
  let closed = false;
  let responseDelayMs = options.responseDelayMs ?? 0;
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const settle = () => {
    counts.pending--;
    if (counts.pending === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  // Kept-alive sockets must be closed by this side, never by the emulator: a request sent on a
  // socket the server is closing at that moment fails (ECONNRESET, a 502, an `unknown` send). The
  // emulator keeps idle sockets 2 minutes, this agent drops them after 30 s.
  const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 30_000 });

  async function post(type: SimulatedEvent, message: AcceptedMessage, recipient: string): Promise<void> {
    const started = Date.now();
    const { body, messageId } = snsNotificationBody(sesEventRecord(type, message, recipient, new Date()), topicArn);
    for (let attempt = 0; !closed; attempt++) {
      while (paused && !closed) await new Promise<void>((r) => resumeWaiters.push(r));
      let error: string;
      try {
        const res = await fetch(options.webhookUrl!, {
          method: 'POST',
          headers: {
            'content-type': 'text/plain; charset=UTF-8',
            'x-amz-sns-message-type': 'Notification',
            'x-amz-sns-message-id': messageId,
            'x-amz-sns-topic-arn': topicArn,
          },
          body,
          signal: AbortSignal.timeout(15_000),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          counts.delivered++;
          counts.byType[type] = (counts.byType[type] ?? 0) + 1;
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        error = (err as Error).message;
      }
      if (Date.now() - started > giveUpAfterMs) {
        counts.gaveUp++;
        options.onGiveUp?.({ type, messageId: message.messageId, error });
        return;
      }
      await sleep(retry[Math.min(attempt, retry.length - 1)]!);
    }
  }

  async function publish(message: AcceptedMessage): Promise<void> {
    try {
      for (const recipient of message.destinations) {
        for (const type of simulatedEvents(recipient)) {
          if (closed) return;
          await post(type, message, recipient);
          if (gapMs > 0) await sleep(gapMs);
        }
      }
    } finally {
      settle();
    }
  }

  const server = createServer((req: IncomingMessage, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const form = req.method === 'POST' && req.url === '/' ? new URLSearchParams(body.toString()) : undefined;
      if (form) requests.push({ at, form });
      const headers: Record<string, string | string[]> = { host: upstreamUrl.host, 'content-length': String(body.length) };
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined && !['host', 'content-length', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
      }
      const up = request({ agent, host: upstreamUrl.hostname, port: Number(upstreamUrl.port), method: req.method, path: req.url, headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (c: Buffer) => parts.push(c));
        answer.on('end', () => {
          const text = Buffer.concat(parts);
          const reply = () => {
            res.writeHead(answer.statusCode ?? 502, { 'content-type': answer.headers['content-type'] ?? 'text/plain' });
            res.end(text);
          };
          if (responseDelayMs > 0) void sleep(responseDelayMs).then(reply);
          else reply();
          const action = form?.get('Action');
          const messageId = /<MessageId>([^<]+)<\/MessageId>/.exec(text.toString())?.[1];
          if (answer.statusCode === 200 && messageId && (action === 'SendRawEmail' || action === 'SendEmail')) {
            const message = acceptedFrom(form!, messageId, new Date(at));
            accepted.push(message);
            if (options.webhookUrl && !closed) {
              counts.pending++;
              void publish(message);
            }
          }
        });
        answer.on('error', (err: Error) => res.destroy(err));
      });
      up.on('error', (err: Error) => {
        if (res.headersSent) return res.destroy(err);
        res.writeHead(502);
        res.end(err.message);
      });
      up.end(req.method === 'GET' ? undefined : body);
    });
  });
  // longer than any SES client here keeps an idle socket (same race as above, one hop earlier)
  server.keepAliveTimeout = 600_000;
  server.headersTimeout = 605_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((r) => server.listen(options.port ?? 0, host, r));
  const url = `http://${host}:${(server.address() as AddressInfo).port}`;

  return {
    url,
    upstream,
    requests,
    accepted,
    stats: () => ({ accepted: accepted.length, delivered: counts.delivered, gaveUp: counts.gaveUp, pending: counts.pending, byType: { ...counts.byType } }),
    setResponseDelay(ms) {
      responseDelayMs = ms;
    },
    idle: () => (counts.pending === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
    pausePublishing() {
      paused = true;
    },
    resumePublishing() {
      paused = false;
      const waiters = resumeWaiters;
      resumeWaiters = [];
      for (const w of waiters) w();
    },
    async clear() {
      requests.length = 0;
      accepted.length = 0;
      await fetch(`${upstream}/clear-store`, { method: 'POST' });
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const w of resumeWaiters) w();
      server.closeAllConnections();
      agent.destroy();
      await Promise.all([new Promise((r) => server.close(r)), emulator?.close()]);
    },
  };
}
