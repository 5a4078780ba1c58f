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
  /** provably never put on the wire: send again */
  readonly unsent: ReadonlySet<string>;
  /** no mark found, but not proven yet (asked again at the next tick): leave them as they are */
  readonly pending: ReadonlySet<string>;
}

/**
 * On-the-wire marks: a send attempt writes its mark (and waits for the answer) right before its
 * request leaves, after the last check of its lease. A claim that lapsed without a mark never put
 * its request on the wire: a worker killed between its claim and the request, which would
 * otherwise be an unknown outcome no SES event can settle. The campaign tick sends those again and
 * leaves marked ones to the SES `Send` event.
 */
export interface WireMarks {
  /** Records that this attempt may put its request on the wire from now on. */
  mark(ref: WireRef): Promise<void>;
  /**
   * Of these lapsed claims of one campaign (their lease has run out by the database's clock, so no
   * attempt can mark them any more), the ones provably never put on the wire, and the ones without
   * a mark that are not proven yet. Claims it can say nothing about (marked, or older than the
   * marks) are in neither set.
   */
  judge(campaignId: string, claims: ReadonlyArray<LapsedClaim>): Promise<WireVerdict>;
}

/** How long a mark (and a check) lives: far beyond a lease plus the campaign tick's interval. */
export const WIRE_MARK_TTL_MS = 24 * 3_600_000;
/**
 * Claims made within this time after the first worker that writes marks started are not judged:
 * workers of an earlier release (without marks) may still be sending during a rolling deploy.
 */
export const WIRE_ROLLOUT_MS = 30 * 60_000;

/**
 * Marks in Redis: `<prefix>:wire:{<campaignId>}:<campaignEmailId>:<attempt>`, one SET with a
 * 24 h expiry per send (the hash tag keeps a campaign's marks in one slot, so the tick reads them
 * with MGET on Redis Cluster too).
 *
 * An absent mark proves nothing if Redis lost writes (an AOF that had not reached the disk, a
 * restart without persistence, a replica promoted before it had every write). So the tick proves
 * it in two steps: the first time a lapsed claim shows no mark, it writes a check key beside it
 * (`…:<attempt>:check`) and decides nothing; at a later tick, no mark but the check still there
 * proves the claim unsent. Redis loses writes only from the end (AOF, RDB and replication all keep
 * a prefix of the commands in their order), and the check was written after the claim lapsed,
 * after any mark its attempt could write: if the check survived, so did the mark, had there been
 * one. A lost check is written again.
 *
 * Claims from before the marks existed are not judged: `<prefix>:wire-since` holds when the first
 * worker that writes marks started (set once; a Redis that lost it gets a later time, which only
 * judges fewer claims), and claims before it plus WIRE_ROLLOUT_MS are left to the SES events.
 */
export function createRedisWireMarks(redis: Redis | Cluster, prefix: string, options: { now?: () => number; rolloutMs?: number } = {}): WireMarks {
  const now = options.now ?? Date.now;
  const rolloutMs = options.rolloutMs ?? WIRE_ROLLOUT_MS;
  const key = (campaignId: string, id: string, attempt: number) => `${prefix}:wire:{${campaignId}}:${id}:${attempt}`;
  const sinceKey = `${prefix}:wire-since`;
  const since = async (): Promise<number> => {
    await redis.set(sinceKey, String(now()), 'NX');
    return Number(await redis.get(sinceKey));
  };
  // recorded as soon as a worker that writes marks connects, long before its claims can lapse
  const record = () => void since().catch(() => undefined);
  redis.on('ready', record);
  if (redis.status === 'ready') record();

  return {
    async mark(ref) {
      await redis.set(key(ref.campaignId, ref.campaignEmailId, ref.attempt), '1', 'PX', WIRE_MARK_TTL_MS);
    },
    async judge(campaignId, claims) {
      const unsent = new Set<string>();
      const pending = new Set<string>();
      if (claims.length === 0) return { unsent, pending };
      const from = (await since()) + rolloutMs;
      const judged = claims.filter((c) => c.claimedAt.getTime() > from);
      for (let i = 0; i < judged.length; i += 250) {
        const chunk = judged.slice(i, i + 250);
        const keys = chunk.map((c) => key(campaignId, c.id, c.attempt));
        // mark and check of each claim in one read
        const values = await redis.mget(...keys.flatMap((k) => [k, `${k}:check`]));
        const checks = redis.pipeline();
        let written = 0;
        chunk.forEach((c, j) => {
          if (values[2 * j] !== null) return; // marked: the SES Send event settles it
          if (values[2 * j + 1] !== null) return void unsent.add(c.id);
          pending.add(c.id);
          checks.set(`${keys[j]}:check`, '1', 'PX', WIRE_MARK_TTL_MS);
          written++;
        });
        if (written > 0) {
          const results = await checks.exec();
          const failed = results?.find(([err]) => err);
          if (failed) throw failed[0]!;
        }
      }
      return { unsent, pending };
    },
  };
}

/** In-memory marks for handler tests (no lost writes: an unmarked claim is unsent at once). */
export function createFakeWireMarks() {
  const marks = new Set<string>();
  const id = (campaignId: string, campaignEmailId: string, attempt: number) => `${campaignId}/${campaignEmailId}/${attempt}`;
  return {
    marks,
    async mark(ref: WireRef) {
      marks.add(id(ref.campaignId, ref.campaignEmailId, ref.attempt));
    },
    async judge(campaignId: string, claims: ReadonlyArray<LapsedClaim>) {
      return { unsent: new Set(claims.filter((c) => !marks.has(id(campaignId, c.id, c.attempt))).map((c) => c.id)), pending: new Set<string>() };
    },
  } satisfies WireMarks & { marks: Set<string> };
}
