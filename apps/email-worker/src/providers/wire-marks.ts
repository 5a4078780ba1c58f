import type { Cluster, Redis } from 'ioredis';

/** One claim of a ledger row (campaign_emails.attempt is the claim token). */
export interface WireRef {
  readonly campaignId: string;
  readonly campaignEmailId: string;
  readonly attempt: number;
}

/** A row whose outcome is unknown and whose lease has run out (no attempt can still send it). */
export interface LapsedClaim {
  readonly id: string;
  readonly attempt: number;
  /** when the claim was made (the database's clock) */
  readonly claimedAt: Date;
}

/** What the marks say about lapsed claims (ids). */
export interface WireVerdict {
  /**
   * provably never reached SES: send again. Either no mark (the worker died between its claim and
   * the request), or (`unseen`) marked, with no Send event of its own after the event wait while
   * Send events of messages SES accepted after the mark did arrive
   */
  readonly unsent: ReadonlySet<string>;
  /**
   * not decided yet (asked again at the next tick): leave them as they are. No mark but not proven
   * yet, or marked less than the event wait ago (its Send event may still come)
   */
  readonly pending: ReadonlySet<string>;
  /**
   * the part of `unsent` judged by the Send events (marked, or unmarked on a Redis that may have
   * lost the mark): SES never got the request though it may have left
   */
  readonly unseen?: ReadonlySet<string>;
  /**
   * marked, past the event wait, and nothing shows that Send events flow for messages SES accepted
   * after the mark: "maybe sent", left to UNKNOWN_OUTCOME_POLICY. Set only when not empty
   */
  readonly unvouched?: {
    readonly ids: ReadonlySet<string>;
    /** SES's time of the latest message of the campaign whose Send event was applied; null: none known */
    readonly sendEventsUntil: Date | null;
  };
}

/** What to do with a marked lapsed claim that is still unknown (its Send event has not been applied). */
export type MarkedClaimVerdict = 'wait' | 'unseen' | 'unvouched';

/** SES's clock and a worker's may differ by this much (NTP keeps them far closer) */
export const SEND_EVENT_CLOCK_SKEW_MS = 1000;

/**
 * A marked claim without its Send event: within `eventWaitMs` of its mark it waits (the event may
 * be on its way); after that, if the campaign's Send events reached past the mark (SES accepted a
 * later message and its Send event was applied), SES never got this request: `unseen`, sent again.
 * Otherwise (no event after the mark, or a mark without its time, written by an older release)
 * nothing vouches for it: `unvouched`, left to the policy.
 */
export function judgeMarkedClaim(markedAt: number | null, sendEventsUntil: number | null, now: number, eventWaitMs: number): MarkedClaimVerdict {
  if (markedAt !== null && now - markedAt < eventWaitMs) return 'wait';
  if (markedAt !== null && sendEventsUntil !== null && sendEventsUntil > markedAt + SEND_EVENT_CLOCK_SKEW_MS) return 'unseen';
  return 'unvouched';
}

/**
 * On-the-wire marks: a send attempt writes its mark (and waits for the answer) right before its
 * request leaves, after the last check of its lease. A claim that lapsed without a mark never put
 * its request on the wire: a worker killed between its claim and the request, which would
 * otherwise be an unknown outcome no SES event can settle. The campaign tick sends those again and
 * leaves marked ones to the SES `Send` event.
 */
export interface WireMarks {
  /** Records that this attempt may put its request on the wire from now on (and when: the mark's value). */
  mark(ref: WireRef): Promise<void>;
  /**
   * Withdraws this attempt's mark: its request will not leave before it marks again (its rate slot
   * went stale while it marked, and it waits for a new one). A worker killed during that wait then
   * leaves a claim provably never sent instead of a "maybe sent" one.
   */
  unmark(ref: WireRef): Promise<void>;
  /**
   * A Send event of the campaign was applied (process-webhook): SES accepted a message at
   * `acceptedAt` (its `mail.timestamp`) and its event reached us. Keeps the latest such time per
   * campaign, the evidence that Send events flow past a mark.
   */
  sawSendEvent(campaignId: string, acceptedAt: Date): Promise<void>;
  /**
   * Of these lapsed claims of one campaign (their lease has run out by the database's clock, so no
   * attempt can mark them any more), the ones provably never put on the wire, and the ones without
   * a mark that are not proven yet. A marked claim is judged by judgeMarkedClaim against the
   * campaign's Send events (these claims are unknown: their own Send event has not been applied).
   * Claims it can say nothing about (older than the marks) are in neither set.
   */
  judge(campaignId: string, claims: ReadonlyArray<LapsedClaim>): Promise<WireVerdict>;
}

/**
 * SEND_EVENT_WAIT_MS's default: how long after its mark a claim without a Send event waits before
 * the Send events of later messages can prove that SES never got it. Well beyond SNS's own
 * retries of a failed HTTP delivery (3 within about a minute by default) and the webhook's queue.
 */
export const SEND_EVENT_WAIT_MS = 10 * 60_000;

/**
 * An absent mark is believed only if the Redis that was read had been serving the same data since
 * at least this long before the claim (the database's clock against the judge's, INFO's whole
 * seconds). A deposed master that keeps taking writes after its replica was promoted (a network
 * partition) is bounded by Redis's min-replicas-to-write, not by this margin.
 */
export const WIRE_LINEAGE_MARGIN_MS = 10_000;

/** How long a mark (and a check) lives: far beyond a lease plus the campaign tick's interval. */
export const WIRE_MARK_TTL_MS = 24 * 3_600_000;
/**
 * Claims made within this time after the first worker that writes marks started are not judged:
 * workers of an earlier release (without marks) may still be sending during a rolling deploy.
 */
export const WIRE_ROLLOUT_MS = 30 * 60_000;

/** Keeps the later of the stored time and ARGV[1] (ms), with the marks' expiry. */
const KEEP_LATEST = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;
const KEEP_LATEST_COMMAND = 'coldcopyWireKeepLatest';
interface KeepLatest {
  [KEEP_LATEST_COMMAND](key: string, at: string, ttlMs: string): Promise<number>;
}

/**
 * Marks in Redis: `<prefix>:wire:{<campaignId>}:<campaignEmailId>:<attempt>`, one SET with a
 * 24 h expiry per send (the hash tag keeps a campaign's marks in one slot, so the tick reads them
 * with MGET on Redis Cluster too).
 *
 * An absent mark proves nothing if Redis lost acknowledged writes since the claim: a kill -9 or
 * crash before its AOF reached the disk (appendfsync everysec loses up to about a second), a
 * restart without persistence, a replica promoted before it had every write. Redis loses writes
 * only at a restart or a promotion, so after its reads of the marks the judge asks the Redis it
 * read (INFO server and replication, once per judge call, never per send) since when it has served
 * its data: its start (now - uptime_in_seconds) if it was never promoted since (master_replid2
 * unset), else the first time a judge saw its run_id and master_replid (kept in
 * `<prefix>:wire-lineage`, HSETNX; lost with a restart, which the uptime shows anyway). A claim made
 * less than WIRE_LINEAGE_MARGIN_MS after that time (or read from a replica) may have lost its mark:
 * its absence proves nothing, and the claim is judged as if marked at the latest its request could
 * have left: the end of its lease, or that time plus the margin if earlier (a lost mark was written
 * before this Redis began serving; the request leaves right after its mark), by judgeMarkedClaim:
 * it waits SEND_EVENT_WAIT_MS for its Send event, is sent again only if Send events of messages SES
 * accepted after that time have arrived, and is otherwise left to UNKNOWN_OUTCOME_POLICY.
 *
 * On a Redis that has served its data since before the claim, the absence is still proven in two
 * looks, against a mark that reaches Redis after the first look (a mark write held up past the
 * lapse, a worker whose clock ran slow against the database's): the first time a lapsed claim shows
 * no mark, the judge writes a check key beside it (`…:<attempt>:check`) and decides nothing; at a
 * later look, no mark but the check still there proves the claim unsent. The two looks do not
 * protect against lost writes: a mark lost before the first look leaves a check written after the
 * loss, which survives (that is what the lineage check is for).
 *
 * Claims from before the marks existed are not judged: `<prefix>:wire-since` holds when the first
 * worker that writes marks started (set once; a Redis that lost it gets a later time, which only
 * judges fewer claims), and claims before it plus WIRE_ROLLOUT_MS are left to the SES events.
 */
export function createRedisWireMarks(
  redis: Redis | Cluster,
  prefix: string,
  options: {
    /** SEND_LEASE_MS: a claim's request leaves within its lease (from its claimed_at) or never */
    leaseMs: number;
    now?: () => number;
    rolloutMs?: number;
    sendEventWaitMs?: number;
    lineageMarginMs?: number;
  },
): WireMarks {
  const now = options.now ?? Date.now;
  const rolloutMs = options.rolloutMs ?? WIRE_ROLLOUT_MS;
  const leaseMs = options.leaseMs;
  const eventWaitMs = options.sendEventWaitMs ?? SEND_EVENT_WAIT_MS;
  const lineageMarginMs = options.lineageMarginMs ?? WIRE_LINEAGE_MARGIN_MS;
  const key = (campaignId: string, id: string, attempt: number) => `${prefix}:wire:{${campaignId}}:${id}:${attempt}`;
  // in the campaign's hash slot, read with its marks
  const sendEventsKey = (campaignId: string) => `${prefix}:wire:{${campaignId}}:send-events`;
  if (typeof (redis as unknown as Partial<KeepLatest>)[KEEP_LATEST_COMMAND] !== 'function') {
    redis.defineCommand(KEEP_LATEST_COMMAND, { numberOfKeys: 1, lua: KEEP_LATEST });
  }
  const sinceKey = `${prefix}:wire-since`;
  const since = async (): Promise<number> => {
    await redis.set(sinceKey, String(now()), 'NX');
    return Number(await redis.get(sinceKey));
  };
  const lineageKey = `${prefix}:wire-lineage`;
  // since when (judge's clock) the master `node` has served its data without losing writes; +Infinity: not known
  const servedSince = async (node: Redis): Promise<number> => {
    const replies = (await node.pipeline().info('server').info('replication').exec()) ?? [];
    const at = now();
    const info = replies
      .map(([err, out]) => {
        if (err) throw err;
        return String(out);
      })
      .join('\n');
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const uptimeS = Number(field('uptime_in_seconds'));
    const [runId, replId, replId2] = [field('run_id'), field('master_replid'), field('master_replid2')];
    // a replica may hold only a prefix of the master's writes
    if (field('role') !== 'master' || !Number.isFinite(uptimeS) || !runId || !replId) return Number.POSITIVE_INFINITY;
    const started = at - uptimeS * 1000; // whole seconds, rounded down: never earlier than the start
    if (replId2 !== undefined && /^0+$/.test(replId2)) return started; // never promoted since its start
    // promoted since its start, at an unknown time: the first time a judge saw it serving
    const lineage = `${runId}:${replId}`;
    await redis.hsetnx(lineageKey, lineage, String(at));
    return Math.max(started, Number(await redis.hget(lineageKey, lineage)));
  };
  // the latest of the masters' (Redis Cluster: any of them may hold the campaign's slot)
  const lineageSince = async (): Promise<number> => {
    const nodes = redis.isCluster ? (redis as Cluster).nodes('master') : [redis as Redis];
    return Math.max(...(await Promise.all(nodes.map(servedSince))));
  };
  // recorded as soon as a worker that writes marks connects, long before its claims can lapse
  const record = () => void since().catch(() => undefined);
  redis.on('ready', record);
  if (redis.status === 'ready') record();

  return {
    async mark(ref) {
      await redis.set(key(ref.campaignId, ref.campaignEmailId, ref.attempt), String(now()), 'PX', WIRE_MARK_TTL_MS);
    },
    async unmark(ref) {
      await redis.del(key(ref.campaignId, ref.campaignEmailId, ref.attempt));
    },
    async sawSendEvent(campaignId, acceptedAt) {
      await (redis as unknown as KeepLatest)[KEEP_LATEST_COMMAND](sendEventsKey(campaignId), String(acceptedAt.getTime()), String(WIRE_MARK_TTL_MS));
    },
    async judge(campaignId, claims) {
      const v = verdicts();
      const { unsent, pending } = v;
      if (claims.length === 0) return { unsent, pending };
      const from = (await since()) + rolloutMs;
      const judged = claims.filter((c) => c.claimedAt.getTime() > from);
      // mark and check of each claim, and the campaign's Send events, in one read per 250 claims
      const values: Array<string | null> = [];
      let seen: string | null = null;
      for (let i = 0; i < judged.length; i += 250) {
        const keys = judged.slice(i, i + 250).map((c) => key(campaignId, c.id, c.attempt));
        const read = await redis.mget(...keys.flatMap((k) => [k, `${k}:check`]), sendEventsKey(campaignId));
        seen = read.pop() ?? null;
        values.push(...read);
      }
      const sendEventsUntil = seen ? Number(seen) : null;
      // asked after the reads: a Redis that served the same data since before a claim has not lost its mark
      const trustedSince = judged.length > 0 ? await lineageSince() : Number.POSITIVE_INFINITY;
      const checks = redis.pipeline();
      let written = 0;
      judged.forEach((c, j) => {
        const mark = values[2 * j];
        if (mark != null) {
          // marked: its Send event has not been applied (the row is still unknown)
          const markedAt = Number(mark) > 1e12 ? Number(mark) : null; // '1': a mark without its time
          return v.marked(c.id, judgeMarkedClaim(markedAt, sendEventsUntil, now(), eventWaitMs));
        }
        if (trustedSince > c.claimedAt.getTime() - lineageMarginMs) {
          // Redis (re)started or was promoted since about the claim: its mark may be lost. Judged as
          // marked at the latest its request could have left: the end of its lease, or, if earlier,
          // when this Redis began serving (a mark written since then would be here)
          const latest = Math.min(c.claimedAt.getTime() + leaseMs, trustedSince + lineageMarginMs);
          return v.marked(c.id, judgeMarkedClaim(latest, sendEventsUntil, now(), eventWaitMs));
        }
        if (values[2 * j + 1] !== null) return void unsent.add(c.id);
        pending.add(c.id);
        checks.set(`${key(campaignId, c.id, c.attempt)}:check`, '1', 'PX', WIRE_MARK_TTL_MS);
        written++;
      });
      if (written > 0) {
        const results = await checks.exec();
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0]!;
      }
      return v.verdict(sendEventsUntil);
    },
  };
}

/** The sets of a WireVerdict as a judge fills them. */
function verdicts() {
  const unsent = new Set<string>();
  const pending = new Set<string>();
  const unseen = new Set<string>();
  const unvouched = new Set<string>();
  return {
    unsent,
    pending,
    marked(id: string, verdict: MarkedClaimVerdict): void {
      if (verdict === 'wait') pending.add(id);
      else if (verdict === 'unvouched') unvouched.add(id);
      else {
        unsent.add(id);
        unseen.add(id);
      }
    },
    verdict(sendEventsUntil: number | null): WireVerdict {
      return {
        unsent,
        pending,
        ...(unseen.size > 0 ? { unseen } : {}),
        ...(unvouched.size > 0 ? { unvouched: { ids: unvouched, sendEventsUntil: sendEventsUntil === null ? null : new Date(sendEventsUntil) } } : {}),
      };
    },
  };
}

/** In-memory marks for handler tests (no lost writes: an unmarked claim is unsent at once). */
export function createFakeWireMarks(options: { now?: () => number; sendEventWaitMs?: number } = {}) {
  const now = options.now ?? Date.now;
  const eventWaitMs = options.sendEventWaitMs ?? SEND_EVENT_WAIT_MS;
  const marks = new Map<string, number>();
  const sendEvents = new Map<string, number>();
  const id = (campaignId: string, campaignEmailId: string, attempt: number) => `${campaignId}/${campaignEmailId}/${attempt}`;
  return {
    marks,
    sendEvents,
    async mark(ref: WireRef) {
      marks.set(id(ref.campaignId, ref.campaignEmailId, ref.attempt), now());
    },
    async unmark(ref: WireRef) {
      marks.delete(id(ref.campaignId, ref.campaignEmailId, ref.attempt));
    },
    async sawSendEvent(campaignId: string, acceptedAt: Date) {
      sendEvents.set(campaignId, Math.max(sendEvents.get(campaignId) ?? 0, acceptedAt.getTime()));
    },
    async judge(campaignId: string, claims: ReadonlyArray<LapsedClaim>) {
      const v = verdicts();
      const sendEventsUntil = sendEvents.get(campaignId) ?? null;
      for (const c of claims) {
        const markedAt = marks.get(id(campaignId, c.id, c.attempt));
        if (markedAt === undefined) v.unsent.add(c.id);
        else v.marked(c.id, judgeMarkedClaim(markedAt, sendEventsUntil, now(), eventWaitMs));
      }
      return v.verdict(sendEventsUntil);
    },
  } satisfies WireMarks & { marks: Map<string, number>; sendEvents: Map<string, number> };
}
