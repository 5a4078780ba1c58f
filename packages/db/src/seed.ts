import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CAMPAIGNS, COMPANY_KINDS, COMPANY_PREFIXES, COMPANY_SUFFIXES, FIRST_NAMES, INDUSTRIES, LAST_NAMES, LOCATIONS, TAGS, TITLES } from './seed-data.js';

/*
 * Demo workspace for local development and benchmarks: deterministic from a seed value (same ids,
 * names, addresses and outcomes for the same seed and lead count; timestamps are relative to the
 * run's `now`). The workspace is `demo-<seed>`. Re-running with the same seed and lead count reuses
 * it and does nothing; a different lead count, or `force`, REPLACES it (deleted and recreated in
 * one transaction), so the result never depends on earlier runs.
 */

export interface SeedOptions {
  readonly leads?: number;
  readonly seed?: number;
  readonly now?: Date;
  /** refresh the analytics views afterwards (default true) */
  readonly refreshViews?: boolean;
  /** replace the workspace even when it was seeded with the same seed and lead count */
  readonly force?: boolean;
  readonly log?: (line: string) => void;
}

export interface SeedSummary {
  /** true when the workspace already held this seed's data and nothing was done */
  skipped: boolean;
  workspaceId: string;
  slug: string;
  leads: number;
  enrolments: number;
  campaignEmails: number;
  events: number;
  suppressions: number;
  ms: number;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** sfc32 seeded through splitmix32: small, fast and good enough for demo data. */
export function createRandom(seed: number) {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  /** 8 hex digits */
  const word = (): string =>
    Math.floor(next() * 4294967296)
      .toString(16)
      .padStart(8, '0');
  const random = {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!,
    chance: (p: number) => next() < p,
    hex: (n: number) => {
      let out = '';
      while (out.length < n) out += word();
      return out.slice(0, n);
    },
    uuid: () => {
      const b = word();
      const c = word();
      const version = `4${b.slice(5)}`;
      const variant = `${((parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16)}${c.slice(1, 4)}`;
      return `${word()}-${b.slice(0, 4)}-${version}-${variant}-${c.slice(4)}${word()}`;
    },
  };
  return random;
}
type Random = ReturnType<typeof createRandom>;

interface Column {
  readonly name: string;
}

/** One value in COPY's text format. */
function copyValue(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 't' : 'f';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return /[\\\n\r\t]/.test(text) ? text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t') : text;
}

function* copyChunks(rows: readonly unknown[][]): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    chunk += row.map(copyValue).join('\t') + '\n';
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * COPY ... FROM STDIN in text format: the fastest way to load rows, and encoding on our side
 * overlaps with parsing and index maintenance on the server's.
 */
async function bulkInsert(db: pg.ClientBase, table: string, columns: readonly Column[], rows: readonly unknown[][]): Promise<void> {
  if (rows.length === 0) return;
  const stream = db.query(copyFrom(`COPY ${table} (${columns.map((c) => c.name).join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(copyChunks(rows)), stream);
}

/** "name type, name type, ..." (types document the columns; COPY converts from text). */
const cols = (spec: string): Column[] =>
  spec
    .trim()
    .split(/\s*,\s*/)
    .map((part) => ({ name: part.split(/\s+/)[0]! }));

function slugify(s: string): string {
  return s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '');
}

function render(template: string, lead: { first_name: string; company: string }): string {
  return template.replace('{{first_name}}', lead.first_name).replace('{{company}}', lead.company);
}

/** The demo workspace's enrichment credits with each provider, topped up to this at every seed run. */
export const DEMO_ENRICHMENT_CREDITS = 10_000;

/**
 * The enrichment providers the dev stack's emulators stand for (`hunter`, `apollo`: global rows,
 * matched by name to the worker's adapters, whose base URLs `npm run dev` points at the emulators)
 * and the demo workspace's credits with each. Idempotent, and run on every seed, also when the
 * workspace itself is already there (databases seeded before enrichment existed get it too).
 */
export async function seedDemoEnrichment(db: pg.ClientBase, workspaceId: string, log: (line: string) => void = () => {}): Promise<void> {
  const providers = await db.query<{ id: string; name: string }>(
    `INSERT INTO enrichment_providers (name, type, cost_per_request) VALUES ('hunter', 'multi', 1), ('apollo', 'multi', 1)
     ON CONFLICT (name) DO UPDATE SET type = EXCLUDED.type
     RETURNING id, name`,
  );
  await db.query(
    `INSERT INTO enrichment_credits (workspace_id, provider_id, credits_available, monthly_allowance)
     SELECT $1, unnest($2::uuid[]), $3, $3
     ON CONFLICT (workspace_id, provider_id) DO UPDATE SET
       credits_available = GREATEST(enrichment_credits.credits_available, EXCLUDED.credits_available),
       monthly_allowance = GREATEST(enrichment_credits.monthly_allowance, EXCLUDED.monthly_allowance)`,
    [workspaceId, providers.rows.map((r) => r.id), DEMO_ENRICHMENT_CREDITS],
  );
  log(`enrichment: providers ${providers.rows.map((r) => r.name).join(', ')}, at least ${DEMO_ENRICHMENT_CREDITS} credits each`);
}

/** Creates (or replaces) the demo workspace. Runs in one transaction on one client. */
export async function seedDemo(db: pg.ClientBase, options: SeedOptions = {}): Promise<SeedSummary> {
  const started = Date.now();
  const leadCount = options.leads ?? 1_000;
  const seed = options.seed ?? 42;
  const now = options.now ?? new Date();
  const log = options.log ?? (() => {});
  if (!Number.isInteger(leadCount) || leadCount < 1) throw new RangeError(`leads must be a positive integer, got ${leadCount}`);
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  const rnd: Random = createRandom(seed);
  const slug = `demo-${seed}`;
  const workspaceId = rnd.uuid();
  let userId = rnd.uuid();

  const counts = { enrolments: 0, campaignEmails: 0, events: 0, suppressions: 0 };
  await db.query('BEGIN');
  try {
    await db.query('SET LOCAL synchronous_commit = off');
    const existing = await db.query<{ id: string; demo: { seed?: number; leads?: number } | null }>(
      `SELECT id, settings->'demo_seed' AS demo FROM workspaces WHERE slug = $1`,
      [slug],
    );
    const found = existing.rows[0];
    if (found && !options.force && found.demo?.seed === seed && found.demo?.leads === leadCount) {
      await db.query('ROLLBACK');
      log(`workspace ${slug} already holds seed ${seed} with ${leadCount} leads: nothing to do (--force recreates it)`);
      await seedDemoEnrichment(db, found.id, log);
      const count = async (table: string) =>
        (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE workspace_id = $1`, [found.id])).rows[0]!.n;
      return {
        skipped: true,
        workspaceId: found.id,
        slug,
        leads: await count('leads'),
        enrolments: await count('campaign_leads'),
        campaignEmails: await count('campaign_emails'),
        events: await count('email_events'),
        suppressions: await count('suppression_list'),
        ms: Date.now() - started,
      };
    }
    if (found) {
      // delete the big tables set-based, children first, so the cascade from workspaces finds
      // little left to do row by row (each lead still costs one check per referencing table)
      for (const table of ['email_events', 'campaign_emails', 'campaign_leads', 'suppression_list', 'leads']) {
        await db.query(`DELETE FROM ${table} WHERE workspace_id = $1`, [found.id]);
      }
      await db.query('DELETE FROM workspaces WHERE id = $1', [found.id]);
      log(`deleted the previous contents of ${slug}`);
    }

    await db.query(
      `INSERT INTO workspaces (id, name, slug, status, plan, settings, ai_tokens_balance, last_active_at)
       VALUES ($1, $2, $3, 'active', 'growth', $4, 250000, $5)`,
      [
        workspaceId,
        'Acme Outbound (demo)',
        slug,
        {
          email: { sender_email: 'alex@acme-outbound.example', sender_name: 'Alex Morgan', reply_to_email: 'replies@acme-outbound.example' },
          company: { address: '548 Market St, San Francisco, CA 94104' },
          notifications: { dataRetention: 365 },
          keep_all_data: false,
          demo_seed: { seed, leads: leadCount },
        },
        now,
      ],
    );
    // the demo user survives a replace (profiles are not workspace data): reuse it by email
    const user = await db.query<{ id: string }>(
      `INSERT INTO user_profiles (id, email, full_name, timezone) VALUES ($1, $2, 'Alex Morgan', 'America/Los_Angeles')
       ON CONFLICT (email) DO UPDATE SET full_name = EXCLUDED.full_name
       RETURNING id`,
      [userId, `alex+${seed}@acme-outbound.example`],
    );
    userId = user.rows[0]!.id;
    await db.query(`INSERT INTO workspace_members (workspace_id, user_id, role, is_default) VALUES ($1, $2, 'workspace_admin', false)`, [workspaceId, userId]);

    const mailboxes = ['alex', 'jordan', 'sam'].map((name, i) => ({
      id: rnd.uuid(),
      email: `${name}@${i === 2 ? 'mail.acme-outbound.example' : 'acme-outbound.example'}`,
      domain: i === 2 ? 'mail.acme-outbound.example' : 'acme-outbound.example',
    }));
    await bulkInsert(
      db,
      'mailboxes',
      cols('id uuid, workspace_id uuid, email text, domain text, configuration_set text, status text, daily_cap int, warmup_day int'),
      mailboxes.map((m, i) => [m.id, workspaceId, m.email, m.domain, `cc-${slug}-${i}`, i === 2 ? 'warming' : 'active', i === 2 ? 20 : 80, i === 2 ? 9 : 45]),
    );

    // Campaign A started 30 days ago, B 14 days ago. First sends are spread so that roughly a third
    // of the enrolled leads have been reached by now (daily limits make big lists take weeks);
    // the rest are pending with a future next_email_at.
    const campaignStarts = [now.getTime() - 30 * DAY, now.getTime() - 14 * DAY];
    const REACHED = 1 / 3;
    const campaigns = CAMPAIGNS.map((c, i) => ({
      id: rnd.uuid(),
      name: c.name,
      steps: c.steps,
      start: campaignStarts[i]!,
      mailboxes: i === 0 ? [mailboxes[0]!, mailboxes[1]!] : [mailboxes[1]!, mailboxes[2]!],
    }));
    await bulkInsert(
      db,
      'campaigns',
      cols(
        'id uuid, workspace_id uuid, created_by uuid, name text, type text, status text, timezone text, schedule_settings jsonb, daily_limit int, started_at timestamptz, next_run_at timestamptz, created_at timestamptz',
      ),
      campaigns.map((c) => [
        c.id,
        workspaceId,
        userId,
        c.name,
        'sequence',
        'active',
        'America/New_York',
        { startDate: new Date(c.start).toISOString().slice(0, 10), sendBetween: { start: '09:00', end: '17:00' }, excludeWeekends: true },
        Math.max(50, Math.ceil(leadCount / 20)),
        new Date(c.start),
        new Date(now.getTime() + 5 * 60_000),
        new Date(c.start - 2 * DAY),
      ]),
    );
    await bulkInsert(
      db,
      'campaign_sequences',
      cols(
        'id uuid, workspace_id uuid, campaign_id uuid, step_number int, subject text, body text, delay_days int, condition_type text, is_reply_to_previous bool',
      ),
      campaigns.flatMap((c) =>
        c.steps.map((s, i) => [
          rnd.uuid(),
          workspaceId,
          c.id,
          i + 1,
          s.subject,
          `Hi {{first_name}},\n\n${i === 0 ? 'I noticed {{company}} is growing fast.' : 'Following up on my last note.'}\n\nBest,\nAlex`,
          s.delayDays,
          s.condition,
          i > 0,
        ]),
      ),
    );
    await bulkInsert(
      db,
      'campaign_mailboxes',
      cols('workspace_id uuid, campaign_id uuid, mailbox_id uuid'),
      campaigns.flatMap((c) => c.mailboxes.map((m) => [workspaceId, c.id, m.id])),
    );
    log(`workspace ${slug}: 3 mailboxes, 2 campaigns with 3-step sequences`);

    // ---- leads and their simulated history ----
    const leadRows: unknown[][] = [];
    const enrolRows: unknown[][] = [];
    const emailRows: unknown[][] = [];
    const eventRows: unknown[][] = [];
    const suppressionRows: unknown[][] = [];
    const usedEmails = new Set<string>();
    const nowMs = now.getTime();
    let oldestEvent = nowMs;

    const addEvent = (
      send: { id: string; campaignId: string; leadId: string; messageId: string },
      type: string,
      at: number,
      metadata: Record<string, unknown> = {},
    ) => {
      oldestEvent = Math.min(oldestEvent, at);
      eventRows.push([rnd.uuid(), workspaceId, send.campaignId, send.leadId, send.id, type, 'ses', send.messageId, JSON.stringify(metadata), new Date(at)]);
    };

    for (let i = 0; i < leadCount; i++) {
      const first = rnd.pick(FIRST_NAMES);
      const last = rnd.pick(LAST_NAMES);
      const company = `${rnd.pick(COMPANY_PREFIXES)}${rnd.pick(COMPANY_SUFFIXES)} ${rnd.pick(COMPANY_KINDS)}`;
      const domain = `${slugify(company.split(' ')[0]!)}-${slugify(company.split(' ')[1]!)}.example`;
      const local = rnd.pick([
        `${slugify(first)}.${slugify(last)}`,
        `${slugify(first)}`,
        `${slugify(first)[0]}${slugify(last)}`,
        `${slugify(first)}_${slugify(last)}`,
      ]);
      let email = `${local}@${domain}`;
      for (let n = 2; usedEmails.has(email); n++) email = `${local}${n}@${domain}`;
      usedEmails.add(email);
      const leadId = rnd.uuid();
      const createdAt = nowMs - 60 * DAY + rnd.int(0, 10 * 24) * HOUR;
      const tags = [rnd.pick(TAGS), ...(rnd.chance(0.3) ? [rnd.pick(TAGS)] : [])].filter((t, k, a) => a.indexOf(t) === k);
      const lead = {
        id: leadId,
        status: 'new' as string,
        lastContacted: null as number | null,
        lastActivity: null as number | null,
        engagement: 0,
      };

      // 90 % are enrolled, alternating between the two campaigns
      const enrolled = rnd.chance(0.9);
      if (enrolled) {
        const c = campaigns[i % 2]!;
        const enrol = {
          id: rnd.uuid(),
          status: 'pending' as string,
          step: 0,
          next: (c.start + rnd.next() * ((nowMs - c.start) / REACHED)) as number | null,
          last: null as number | null,
          emails: 0,
          opens: 0,
          clicks: 0,
          replied: null as number | null,
          unsub: null as number | null,
          bounced: null as number | null,
        };
        let opened = false;
        for (let step = 1; step <= 3; step++) {
          const at = enrol.next!;
          if (at > nowMs) break;
          const spec = c.steps[step - 1]!;
          if (step > 1 && spec.condition === 'opened' && !opened) {
            enrol.status = 'completed';
            enrol.next = null;
            break;
          }
          const mailbox = c.mailboxes[i % c.mailboxes.length]!;
          const send = {
            id: rnd.uuid(),
            campaignId: c.id,
            leadId,
            messageId: `0100019${rnd.hex(9)}-${rnd.hex(8)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(4)}-${rnd.hex(12)}-000000`,
          };
          const row = {
            delivery: null as string | null,
            delivered: null as number | null,
            opened: null as number | null,
            clicked: null as number | null,
            replied: null as number | null,
            bouncedAt: null as number | null,
            complainedAt: null as number | null,
            opens: 0,
            clicks: 0,
            bounceType: null as string | null,
          };
          addEvent(send, 'sent', at);
          enrol.emails++;
          enrol.step = step;
          enrol.last = at;
          lead.lastContacted = at;
          if (lead.status === 'new') lead.status = 'contacted';
          const within = (ms: number) => Math.min(at + ms, nowMs);

          let stop = false;
          if (rnd.chance(step === 1 ? 0.03 : 0.01)) {
            row.delivery = 'bounced';
            row.bouncedAt = within(rnd.int(1, 30) * 60_000);
            row.bounceType = rnd.chance(0.8) ? 'Permanent' : 'Transient';
            addEvent(send, 'bounced', row.bouncedAt, { bounceType: row.bounceType, bounceSubType: row.bounceType === 'Permanent' ? 'General' : 'MailboxFull' });
            enrol.status = 'bounced';
            enrol.bounced = row.bouncedAt;
            if (row.bounceType === 'Permanent') suppressionRows.push([rnd.uuid(), workspaceId, email, 'bounce', 'hard bounce', 'webhook', c.id, 1]);
            stop = true;
          } else {
            row.delivery = 'delivered';
            row.delivered = within(rnd.int(1, 120) * 1000);
            addEvent(send, 'delivered', row.delivered);
            if (rnd.chance(0.45)) {
              opened = true;
              row.opened = within(rnd.int(5, 48 * 60) * 60_000);
              row.opens = rnd.int(1, 3);
              for (let k = 0; k < row.opens; k++) addEvent(send, 'opened', Math.min(row.opened + k * 3 * HOUR, nowMs), { userAgent: 'Mozilla/5.0' });
              enrol.opens += row.opens;
              lead.engagement += 10 * row.opens;
              lead.lastActivity = row.opened;
              if (rnd.chance(0.2)) {
                row.clicked = Math.min(row.opened + rnd.int(1, 30) * 60_000, nowMs);
                row.clicks = 1;
                addEvent(send, 'clicked', row.clicked, { url: `https://acme-outbound.example/demo?l=${leadId.slice(0, 8)}` });
                enrol.clicks++;
                lead.engagement += 20;
                lead.lastActivity = row.clicked;
              }
            }
            if (rnd.chance(0.05)) {
              row.replied = within(rnd.int(30, 72 * 60) * 60_000);
              addEvent(send, 'replied', row.replied, { replyScore: Math.round(rnd.next() * 100) / 100 });
              enrol.status = 'replied';
              enrol.replied = row.replied;
              lead.status = 'replied';
              lead.engagement += 30;
              lead.lastActivity = row.replied;
              stop = true;
            } else if (rnd.chance(0.006)) {
              enrol.status = 'unsubscribed';
              enrol.unsub = within(rnd.int(5, 600) * 60_000);
              addEvent(send, 'unsubscribed', enrol.unsub, { source: 'link' });
              lead.status = 'unsubscribed';
              suppressionRows.push([rnd.uuid(), workspaceId, email, 'unsubscribe', 'unsubscribe link', 'link', c.id, 0]);
              stop = true;
            } else if (rnd.chance(0.001)) {
              row.delivery = 'complained';
              row.complainedAt = within(rnd.int(5, 600) * 60_000);
              addEvent(send, 'complained', row.complainedAt, { complaintFeedbackType: 'abuse' });
              enrol.status = 'failed';
              suppressionRows.push([rnd.uuid(), workspaceId, email, 'complaint', 'spam complaint', 'webhook', c.id, 0]);
              stop = true;
            }
          }
          emailRows.push([
            send.id,
            workspaceId,
            c.id,
            leadId,
            step,
            mailbox.id,
            'sent',
            row.delivery,
            1,
            new Date(at - 2000),
            new Date(at - 60_000),
            new Date(at),
            row.delivered && new Date(row.delivered),
            row.opened && new Date(row.opened),
            row.clicked && new Date(row.clicked),
            row.replied && new Date(row.replied),
            row.bouncedAt && new Date(row.bouncedAt),
            row.complainedAt && new Date(row.complainedAt),
            row.opens,
            row.clicks,
            send.messageId,
            mailbox.email,
            render(spec.subject, { first_name: first, company }),
            `Hi ${first},\n\n${step === 1 ? `I noticed ${company} is growing fast.` : 'Following up on my last note.'}\n\nBest,\nAlex`,
            row.bounceType,
          ]);
          if (stop) {
            enrol.next = null;
            break;
          }
          if (step === 3) {
            enrol.status = 'completed';
            enrol.next = null;
          } else {
            enrol.status = 'in_progress';
            enrol.next = at + c.steps[step]!.delayDays * DAY + rnd.int(0, 8) * HOUR;
          }
        }
        enrolRows.push([
          enrol.id,
          workspaceId,
          c.id,
          leadId,
          enrol.status,
          enrol.step,
          enrol.next === null ? null : new Date(enrol.next),
          enrol.last && new Date(enrol.last),
          enrol.emails,
          enrol.opens,
          enrol.clicks,
          enrol.replied && new Date(enrol.replied),
          enrol.unsub && new Date(enrol.unsub),
          enrol.bounced && new Date(enrol.bounced),
          new Date(c.start),
        ]);
      }
      leadRows.push([
        leadId,
        workspaceId,
        email,
        first,
        last,
        company,
        rnd.pick(TITLES),
        `https://${domain}`,
        `https://www.linkedin.com/in/${slugify(first)}-${slugify(last)}-${rnd.hex(6)}`,
        rnd.pick(LOCATIONS),
        rnd.pick(INDUSTRIES),
        lead.status,
        rnd.chance(0.85) ? 'valid' : rnd.pick(['risky', 'unknown']),
        Math.min(100, lead.engagement),
        Math.min(100, lead.engagement),
        `{${tags.join(',')}}`,
        lead.lastContacted && new Date(lead.lastContacted),
        lead.lastActivity && new Date(lead.lastActivity),
        new Date(createdAt),
      ]);
    }

    log(`generated ${leadRows.length + enrolRows.length + emailRows.length + eventRows.length} rows`);
    await bulkInsert(
      db,
      'leads',
      cols(`id uuid, workspace_id uuid, email text, first_name text, last_name text, company text, title text, website text,
            linkedin_url text, location text, industry text, status text, email_status text, score int, engagement_score int,
            tags text[], last_contacted_at timestamptz, last_activity_at timestamptz, created_at timestamptz`),
      leadRows,
    );
    log(`${leadRows.length} leads`);
    await bulkInsert(
      db,
      'campaign_leads',
      cols(`id uuid, workspace_id uuid, campaign_id uuid, lead_id uuid, status text, current_step int, next_email_at timestamptz,
            last_email_at timestamptz, email_count int, open_count int, click_count int, replied_at timestamptz,
            unsubscribed_at timestamptz, bounced_at timestamptz, created_at timestamptz`),
      enrolRows,
    );
    await bulkInsert(
      db,
      'campaign_emails',
      cols(`id uuid, workspace_id uuid, campaign_id uuid, lead_id uuid, step_number int, mailbox_id uuid, status text,
            delivery_status text, attempt int, claimed_at timestamptz, scheduled_at timestamptz, sent_at timestamptz,
            delivered_at timestamptz, opened_at timestamptz, clicked_at timestamptz, replied_at timestamptz,
            bounced_at timestamptz, complained_at timestamptz, open_count int, click_count int, message_id text,
            from_email text, subject text, content_text text, bounce_type text`),
      emailRows,
    );
    log(`${enrolRows.length} enrolments, ${emailRows.length} sent emails`);

    // events of past months need their partitions (maintenance only keeps -1..+3 months)
    await db.query(
      `SELECT create_email_events_partition(m::date)
       FROM generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC'), interval '1 month') AS m`,
      [new Date(oldestEvent), now],
    );
    await bulkInsert(
      db,
      'email_events',
      cols(`id uuid, workspace_id uuid, campaign_id uuid, lead_id uuid, campaign_email_id uuid, event_type text, provider text,
            provider_message_id text, metadata jsonb, created_at timestamptz`),
      eventRows,
    );
    await bulkInsert(
      db,
      'suppression_list',
      cols('id uuid, workspace_id uuid, email text, suppression_type text, reason text, source text, campaign_id uuid, bounce_count int'),
      suppressionRows,
    );
    log(`${eventRows.length} email events, ${suppressionRows.length} suppressions`);

    // counters are recomputed from the ledger, never incremented
    await db.query(
      `UPDATE campaigns c SET
         total_leads = coalesce(e.total, 0), sent_count = coalesce(s.sent, 0), open_count = coalesce(s.opened, 0),
         click_count = coalesce(s.clicked, 0), reply_count = coalesce(s.replied, 0), bounce_count = coalesce(s.bounced, 0)
       FROM campaigns c2
       LEFT JOIN (SELECT campaign_id, count(*) AS total FROM campaign_leads WHERE workspace_id = $1 GROUP BY campaign_id) e
         ON e.campaign_id = c2.id
       LEFT JOIN (SELECT campaign_id, count(*) AS sent, count(opened_at) AS opened, count(clicked_at) AS clicked,
                         count(replied_at) AS replied, count(*) FILTER (WHERE delivery_status = 'bounced') AS bounced
                  FROM campaign_emails WHERE workspace_id = $1 GROUP BY campaign_id) s
         ON s.campaign_id = c2.id
       WHERE c.id = c2.id AND c.workspace_id = $1`,
      [workspaceId],
    );
    await db.query('COMMIT');
    counts.enrolments = enrolRows.length;
    counts.campaignEmails = emailRows.length;
    counts.events = eventRows.length;
    counts.suppressions = suppressionRows.length;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => {});
    throw err;
  }

  // fresh statistics: without them the planner treats the just-loaded tables as empty (and a
  // later replace would plan its foreign-key cascades as sequential scans, row by row)
  await db.query('ANALYZE workspaces, leads, campaign_leads, campaign_emails, email_events, suppression_list');
  log('analyzed');
  await seedDemoEnrichment(db, workspaceId, log);

  if (options.refreshViews ?? true) {
    await db.query('SELECT * FROM refresh_all_analytics_views()');
    log('analytics views refreshed');
  }
  return {
    skipped: false,
    workspaceId,
    slug,
    leads: leadCount,
    ...counts,
    ms: Date.now() - started,
  };
}
