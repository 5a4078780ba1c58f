import MailChecker from 'mailchecker';
import { type Answer, capitalise, EmulatorServer, hashInput, pick, SlidingWindow } from './emulator-server.js';

/**
 * A local Hunter.io v2 (providers.md §6) for tests and `npm run dev`: the same paths, `X-API-KEY`
 * header, `{ data, meta }` / `{ errors }` envelopes and status codes (403 rate limit, 429 plan
 * exhausted, 202 verification still running, 222 SMTP failure, 451 restricted), limits per key
 * (15/s and 500/min, verifier 10/s and 300/min, sliding windows), and a credit balance.
 *
 * Its answers are deterministic functions of the input, with conventions tests rely on:
 * - a domain starting with `unknown` is unknown (finder: no email; domain search: empty);
 * - a last name `Nomatch` is not found by the finder;
 * - verifier by local part: `invalid…` invalid, `unknown…` unknown, `pending…` 202 on the first call
 *   for that address, `greylisted…` 222 on the first call; webmail domains (gmail.com, …) `webmail`,
 *   disposable ones `disposable`, a domain starting with `catchall` `accept_all`, else `valid`.
 */
export interface HunterEmulatorOptions {
  readonly apiKey: string;
  readonly perSecond?: number;
  readonly perMinute?: number;
  readonly verifyPerSecond?: number;
  readonly verifyPerMinute?: number;
  /** the plan's remaining credits (429 once spent); default: unlimited */
  readonly credits?: number;
  /**
   * The header a relay in front writes each request's arrival time into (epoch ms; the bench's
   * kernel-stamp relay): the rate windows count arrivals at that time instead of when this
   * process got round to them. Default: none.
   */
  readonly arrivalHeader?: string;
}

const WEBMAIL = new Set(['gmail.com', 'googlemail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'aol.com', 'proton.me']);
const INDUSTRIES = ['Software', 'Financial Services', 'Marketing', 'Healthcare', 'Retail', 'Manufacturing'];
const POSITIONS = ['Head of Growth', 'VP Sales', 'CTO', 'Marketing Manager', 'Founder', 'Engineering Manager'];

export class HunterEmulator extends EmulatorServer {
  credits: number;
  private readonly windows = new Map<string, SlidingWindow[]>();
  private readonly seen = new Set<string>();

  constructor(private readonly options: HunterEmulatorOptions) {
    super('hunter', (req) => this.routeOf(req), options.arrivalHeader ? { arrivalHeader: options.arrivalHeader } : {});
    this.credits = options.credits ?? Infinity;
    this.onCredits = (c) => (this.credits = c);
  }

  private limited(key: string, verify: boolean, now: number): boolean {
    const id = `${key}:${verify ? 'verify' : 'api'}`;
    let w = this.windows.get(id);
    if (!w) {
      const o = this.options;
      w = verify
        ? [new SlidingWindow(o.verifyPerSecond ?? 10, 1000), new SlidingWindow(o.verifyPerMinute ?? 300, 60_000)]
        : [new SlidingWindow(o.perSecond ?? 15, 1000), new SlidingWindow(o.perMinute ?? 500, 60_000)];
      this.windows.set(id, w);
    }
    // every window must have room; a refused request counts in none
    const [second, minute] = w;
    if (!second!.take(now)) return true;
    return !minute!.take(now);
  }

  private routeOf(req: Parameters<ConstructorParameters<typeof EmulatorServer>[1]>[0]) {
    const m = /^\/v2\/(email-finder|email-verifier|domain-search)$/.exec(req.path);
    if (!m || req.method !== 'GET') return undefined;
    const endpoint = m[1]!;
    const q = req.query;
    const inputHash =
      endpoint === 'email-verifier'
        ? hashInput(q.get('email'))
        : endpoint === 'domain-search'
          ? hashInput(q.get('domain'))
          : hashInput(q.get('first_name'), q.get('last_name'), q.get('domain') ?? q.get('company'));
    return {
      endpoint,
      inputHash,
      answer: (): Answer => {
        const key = req.headers['x-api-key'];
        if (key !== this.options.apiKey) return error(401, 'authentication_failed', 'No user found for the API key supplied');
        if (this.limited(String(key), endpoint === 'email-verifier', req.arrivedAt)) {
          return { ...error(403, 'too_many_requests', 'You have reached the rate limit for this endpoint'), rateLimited: true };
        }
        if (this.credits <= 0) return error(429, 'too_many_requests', 'You have reached your monthly usage limit');
        if (endpoint === 'email-finder') return this.finder(q);
        if (endpoint === 'domain-search') return this.domainSearch(q);
        return this.verifier(q);
      },
    };
  }

  private charge(n: number): number {
    this.credits -= n;
    return n;
  }

  private finder(q: URLSearchParams): Answer {
    const first = q.get('first_name')?.trim();
    const last = q.get('last_name')?.trim();
    const domain = (q.get('domain') ?? '').trim().toLowerCase();
    if (!first || !last || (!domain && !q.get('company'))) return error(400, 'wrong_params', 'first_name, last_name and domain or company are required');
    const h = hashInput(first, last, domain);
    if (domain.startsWith('unknown') || last.toLowerCase() === 'nomatch') {
      return {
        status: 200,
        body: {
          data: { first_name: first, last_name: last, email: null, score: null, domain, accept_all: false, position: null, linkedin_url: null, sources: [] },
          meta: { params: {} },
        },
      };
    }
    const email = `${first}.${last}@${domain}`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
    return {
      status: 200,
      credits: this.charge(1),
      body: {
        data: {
          first_name: capitalise(first),
          last_name: capitalise(last),
          email,
          score: 80 + (parseInt(h.slice(0, 2), 16) % 20),
          domain,
          accept_all: false,
          position: pick(h, POSITIONS),
          linkedin_url: `https://www.linkedin.com/in/${first}-${last}-${h.slice(0, 6)}`.toLowerCase(),
          company: capitalise(domain.split('.')[0]!),
          phone_number: null,
          sources: [],
          verification: { date: '2026-11-01', status: 'valid' },
        },
        meta: { params: { first_name: first, last_name: last, domain } },
      },
    };
  }

  private domainSearch(q: URLSearchParams): Answer {
    const domain = (q.get('domain') ?? '').trim().toLowerCase();
    if (!domain) return error(400, 'wrong_params', 'domain is required');
    if (domain.startsWith('unknown')) {
      return { status: 200, body: { data: { domain, organization: null, pattern: null, emails: [] }, meta: { results: 0 } } };
    }
    const h = hashInput(domain);
    const label = domain.split('.')[0]!;
    const emails = ['alex.martin', 'sam.lee', 'kim.novak'].map((local, i) => ({
      value: `${local}@${domain}`,
      type: 'personal',
      confidence: 90 - i * 5,
      first_name: capitalise(local.split('.')[0]!),
      last_name: capitalise(local.split('.')[1]!),
      position: pick(h, POSITIONS, i + 1),
      seniority: 'senior',
      department: 'management',
      linkedin: null,
      verification: { date: '2026-11-01', status: 'valid' },
    }));
    return {
      status: 200,
      credits: this.charge(Math.max(1, Math.ceil(emails.length / 10))),
      body: {
        data: {
          domain,
          disposable: false,
          webmail: false,
          accept_all: false,
          pattern: '{first}.{last}',
          organization: capitalise(label),
          description: `${capitalise(label)} builds things.`,
          industry: pick(h, INDUSTRIES),
          headcount: '51-200',
          country: 'US',
          linkedin: `https://www.linkedin.com/company/${label}`,
          technologies: ['react', 'stripe'],
          emails,
        },
        meta: { results: emails.length, limit: 10, offset: 0 },
      },
    };
  }

  private verifier(q: URLSearchParams): Answer {
    const email = (q.get('email') ?? '').trim().toLowerCase();
    const at = email.lastIndexOf('@');
    if (at <= 0) return error(400, 'wrong_params', 'email is invalid');
    const local = email.slice(0, at);
    const domain = email.slice(at + 1);
    const firstCall = !this.seen.has(email);
    this.seen.add(email);
    // 202: still running; the repeated call is answered (and counted once)
    if (local.startsWith('pending') && firstCall) return { status: 202, body: { data: { status: null, email }, meta: {} } };
    if (local.startsWith('greylisted') && firstCall)
      return { status: 222, body: { errors: [{ id: 'smtp_failure', code: 222, details: 'The SMTP server failed to answer' }] } };
    const status = local.startsWith('invalid')
      ? 'invalid'
      : local.startsWith('unknown')
        ? 'unknown'
        : !MailChecker.isValid(email)
          ? 'disposable'
          : WEBMAIL.has(domain)
            ? 'webmail'
            : domain.startsWith('catchall')
              ? 'accept_all'
              : 'valid';
    const score = { valid: 96, invalid: 0, unknown: 40, disposable: 10, webmail: 80, accept_all: 60 }[status];
    return {
      status: 200,
      credits: this.charge(1),
      body: {
        data: {
          status,
          result: status === 'valid' ? 'deliverable' : status === 'invalid' ? 'undeliverable' : 'risky',
          score,
          email,
          regexp: true,
          gibberish: false,
          disposable: status === 'disposable',
          webmail: status === 'webmail',
          mx_records: status !== 'invalid',
          smtp_server: status !== 'invalid',
          smtp_check: status === 'valid',
          accept_all: status === 'accept_all',
          block: false,
          sources: [],
        },
        meta: { params: { email } },
      },
    };
  }
}

function error(status: number, id: string, details: string): Answer {
  return { status, body: { errors: [{ id, code: status, details }] } };
}

export async function startHunterEmulator(options: HunterEmulatorOptions, port = 0): Promise<HunterEmulator> {
  const e = new HunterEmulator(options);
  await e.listen(port);
  return e;
}
