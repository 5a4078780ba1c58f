import { type Answer, capitalise, EmulatorServer, FixedWindow, hashInput, pick } from './emulator-server.js';

/**
 * A local Apollo API (providers.md §6) for tests and `npm run dev`: `POST /api/v1/people/match`,
 * `POST /api/v1/people/bulk_match` (at most 10), `GET /api/v1/organizations/enrich`, key in
 * `x-api-key`. Limits per key and per endpoint in fixed minute/hour/day windows that open at the
 * first request, reported on every answer (`x-minute-requests-left`, `x-hourly-requests-left`,
 * `x-24-hour-requests-left` and the `x-rate-limit-*` totals); beyond one, 429 with `retry-after`.
 * Bulk endpoints get a tenth of the limits. A 200 without `person` (or `organization`) is no match;
 * an empty credit balance answers 422 "insufficient credits".
 *
 * Conventions: a domain starting with `unknown` or a last name `Nomatch` matches nobody.
 */
export interface ApolloEmulatorOptions {
  readonly apiKey: string;
  /** per endpoint (bulk: a tenth); defaults are the free plan's 50/min, 200/h, 600/day */
  readonly perMinute?: number;
  readonly perHour?: number;
  readonly perDay?: number;
  readonly credits?: number;
}

const TITLES = ['Head of Growth', 'VP Sales', 'CTO', 'Marketing Manager', 'Founder', 'Engineering Manager'];
const INDUSTRIES = ['computer software', 'financial services', 'marketing & advertising', 'hospital & health care', 'retail'];
const CITIES = [
  ['Austin', 'Texas'],
  ['Denver', 'Colorado'],
  ['Boston', 'Massachusetts'],
  ['Seattle', 'Washington'],
] as const;

/** people per bulk_match request (providers.md §6) */
export const APOLLO_BULK_MAX = 10;

type Windows = { minute: FixedWindow; hour: FixedWindow; day: FixedWindow };

export class ApolloEmulator extends EmulatorServer {
  credits: number;
  private readonly windows = new Map<string, Windows>();

  constructor(private readonly options: ApolloEmulatorOptions) {
    super('apollo', (req) => this.routeOf(req));
    this.credits = options.credits ?? Infinity;
    this.onCredits = (c) => (this.credits = c);
  }

  private windowsOf(key: string, endpoint: string): Windows {
    const id = `${key}:${endpoint}`;
    let w = this.windows.get(id);
    if (!w) {
      const share = endpoint === 'people/bulk_match' ? 0.1 : 1;
      const n = (v: number) => Math.max(1, Math.floor(v * share));
      w = {
        minute: new FixedWindow(n(this.options.perMinute ?? 50), 60_000),
        hour: new FixedWindow(n(this.options.perHour ?? 200), 3_600_000),
        day: new FixedWindow(n(this.options.perDay ?? 600), 86_400_000),
      };
      this.windows.set(id, w);
    }
    return w;
  }

  private routeOf(req: Parameters<ConstructorParameters<typeof EmulatorServer>[1]>[0]) {
    const m = /^\/api\/v1\/(people\/match|people\/bulk_match|organizations\/enrich)$/.exec(req.path);
    if (!m) return undefined;
    const endpoint = m[1]!;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const inputHash =
      endpoint === 'organizations/enrich'
        ? hashInput(req.query.get('domain'))
        : endpoint === 'people/match'
          ? personHash(body)
          : hashInput(
              ...(Array.isArray(body.details) ? body.details.map((d) => personHash(d && typeof d === 'object' ? (d as Record<string, unknown>) : {})) : []),
            );
    return {
      endpoint,
      inputHash,
      answer: (): Answer => {
        if (req.headers['x-api-key'] !== this.options.apiKey) return { status: 401, body: { error: 'Invalid access credentials.' } };
        const expected = endpoint === 'organizations/enrich' ? 'GET' : 'POST';
        if (req.method !== expected) return { status: 404, body: { error: 'not found' } };
        const now = Date.now();
        const w = this.windowsOf(String(req.headers['x-api-key']), endpoint);
        const full = (['minute', 'hour', 'day'] as const).find((k) => w[k].left(now) <= 0);
        if (full) {
          return {
            status: 429,
            rateLimited: true,
            headers: { ...this.headers(w, now), 'retry-after': String(Math.ceil(w[full].reopensIn(now) / 1000)) },
            body: { error: `The maximum number of api calls allowed for ${endpoint} is ${w[full].max} times per ${full}. Please upgrade your plan.` },
          };
        }
        w.minute.take(now);
        w.hour.take(now);
        w.day.take(now);
        const answer = this.answer(endpoint, req, body);
        return { ...answer, headers: { ...this.headers(w, now), ...(answer.headers ?? {}) } };
      },
    };
  }

  private headers(w: Windows, now: number): Record<string, string> {
    return {
      'x-rate-limit-minute': String(w.minute.max),
      'x-rate-limit-hourly': String(w.hour.max),
      'x-rate-limit-24-hour': String(w.day.max),
      'x-minute-requests-left': String(w.minute.left(now)),
      'x-hourly-requests-left': String(w.hour.left(now)),
      'x-24-hour-requests-left': String(w.day.left(now)),
      'x-minute-usage': String(w.minute.max - w.minute.left(now)),
      'x-hourly-usage': String(w.hour.max - w.hour.left(now)),
      'x-24-hour-usage': String(w.day.max - w.day.left(now)),
    };
  }

  private answer(endpoint: string, req: { query: URLSearchParams }, body: Record<string, unknown>): Answer {
    if (endpoint === 'organizations/enrich') {
      const domain = (req.query.get('domain') ?? '').trim().toLowerCase();
      if (!domain) return { status: 422, body: { error: 'domain is required' } };
      if (domain.startsWith('unknown')) return { status: 200, body: {} };
      if (this.credits <= 0) return noCredits();
      this.credits -= 1;
      return { status: 200, credits: 1, body: { organization: organisation(domain) } };
    }
    if (endpoint === 'people/match') {
      const person = match(body);
      if (!person) return { status: 200, body: {} };
      if (this.credits <= 0) return noCredits();
      this.credits -= 1;
      return { status: 200, credits: 1, body: { person } };
    }
    const details = Array.isArray(body.details) ? (body.details as unknown[]) : undefined;
    if (!details || details.length === 0) return { status: 422, body: { error: 'details is required' } };
    if (details.length > APOLLO_BULK_MAX) return { status: 422, body: { error: `details can contain at most ${APOLLO_BULK_MAX} people` } };
    if (details.some((d) => !d || typeof d !== 'object' || Array.isArray(d)))
      return { status: 422, body: { error: 'each entry of details must be an object' } };
    const people = details as Array<Record<string, unknown>>;
    const matches = people.map(match);
    const cost = matches.filter(Boolean).length;
    if (cost > this.credits) return noCredits();
    this.credits -= cost;
    return {
      status: 200,
      credits: cost,
      items: people.map((d, i) => ({ inputHash: personHash(d), credits: matches[i] ? 1 : 0 })),
      body: {
        status: 'success',
        matches,
        credits_consumed: cost,
        total_requested_enrichments: people.length,
        unique_enriched_records: cost,
        missing_records: people.length - cost,
      },
    };
  }
}

function noCredits(): Answer {
  return { status: 422, body: { error: 'You have insufficient credits to perform this action.' } };
}

function personHash(b: Record<string, unknown>): string {
  const s = (k: string) => (typeof b[k] === 'string' ? b[k] : undefined);
  return hashInput(s('email'), s('first_name'), s('last_name'), s('domain'), s('organization_name'), s('linkedin_url'));
}

function match(b: Record<string, unknown>): Record<string, unknown> | null {
  const s = (k: string) => (typeof b[k] === 'string' ? b[k].trim() : '');
  const email = s('email').toLowerCase();
  const domain = (s('domain') || email.split('@')[1] || '').toLowerCase();
  const first = s('first_name') || email.split('@')[0]?.split('.')[0] || '';
  const last = s('last_name') || email.split('@')[0]?.split('.')[1] || '';
  if (!domain || !first || domain.startsWith('unknown') || last.toLowerCase() === 'nomatch') return null;
  const h = hashInput(first, last, domain);
  const [city, state] = pick(h, CITIES);
  return {
    id: h.slice(0, 24),
    first_name: capitalise(first),
    last_name: capitalise(last),
    name: `${capitalise(first)} ${capitalise(last)}`,
    title: pick(h, TITLES, 1),
    seniority: 'director',
    email: email || `${first}.${last}@${domain}`.toLowerCase(),
    email_status: 'verified',
    linkedin_url: `http://www.linkedin.com/in/${first}${last}${h.slice(0, 4)}`.toLowerCase(),
    city,
    state,
    country: 'United States',
    phone_numbers: [],
    organization: organisation(domain),
  };
}

function organisation(domain: string): Record<string, unknown> {
  const h = hashInput(domain);
  const label = domain.split('.')[0]!;
  return {
    id: h.slice(0, 24),
    name: capitalise(label),
    primary_domain: domain,
    website_url: `http://www.${domain}`,
    industry: pick(h, INDUSTRIES),
    estimated_num_employees: 50 + (parseInt(h.slice(0, 4), 16) % 950),
    annual_revenue: 1_000_000 * (1 + (parseInt(h.slice(4, 6), 16) % 90)),
    technology_names: ['Salesforce', 'Google Analytics'],
    country: 'United States',
    linkedin_url: `http://www.linkedin.com/company/${label}`,
    short_description: `${capitalise(label)} is a company.`,
  };
}

export async function startApolloEmulator(options: ApolloEmulatorOptions, port = 0): Promise<ApolloEmulator> {
  const e = new ApolloEmulator(options);
  await e.listen(port);
  return e;
}
