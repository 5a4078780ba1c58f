import type { Redis, Cluster } from 'ioredis';
import type { EmailStore, SentRecord, SentTarget } from './email-store.js';

/**
 * Send outcomes SES accepted that the ledger could not take (Postgres down or failing): kept
 * outside Postgres, in Redis (AOF-durable in production, ops.md), until a drain applies them. An
 * entry is the ledger write it stands for: recordSent's target and record, with the claim token,
 * so that applying it later is fenced exactly like the write it replaces.
 */
export interface JournalledOutcome {
  readonly workspaceId: string;
  readonly target: SentTarget;
  readonly record: SentRecord;
}

export interface OutcomeJournal {
  /** keeps one outcome (keyed by the send id: a second keep of the same send replaces it) */
  keep(outcome: JournalledOutcome): Promise<void>;
  /** up to `limit` kept outcomes, oldest first not guaranteed */
  pending(limit: number): Promise<JournalledOutcome[]>;
  /** forgets a send's outcome once the ledger has it */
  settle(campaignEmailId: string): Promise<void>;
}

type Json = Omit<JournalledOutcome, 'record'> & { record: Omit<SentRecord, 'sentAt' | 'nextEmailAt'> & { sentAt: string; nextEmailAt: string | null } };

const encode = (o: JournalledOutcome): string =>
  JSON.stringify({ ...o, record: { ...o.record, sentAt: o.record.sentAt.toISOString(), nextEmailAt: o.record.nextEmailAt?.toISOString() ?? null } });
const decode = (s: string): JournalledOutcome => {
  const j = JSON.parse(s) as Json;
  return { ...j, record: { ...j.record, sentAt: new Date(j.record.sentAt), nextEmailAt: j.record.nextEmailAt ? new Date(j.record.nextEmailAt) : null } };
};

/** One Redis hash, `<prefix>:email:outcomes`, send id → outcome. */
export function createRedisOutcomeJournal(redis: Redis | Cluster, prefix: string): OutcomeJournal {
  const key = `${prefix}:email:outcomes`;
  return {
    async keep(outcome) {
      await redis.hset(key, outcome.target.email.id, encode(outcome));
    },
    async pending(limit) {
      const [, flat] = await redis.hscan(key, '0', 'COUNT', limit);
      const out: JournalledOutcome[] = [];
      for (let i = 1; i < flat.length && out.length < limit; i += 2) out.push(decode(flat[i]!));
      return out;
    },
    async settle(campaignEmailId) {
      await redis.hdel(key, campaignEmailId);
    },
  };
}

/** In memory, for unit tests; `failNext` makes the next keep fail as Redis being down would. */
export function createFakeOutcomeJournal() {
  const entries = new Map<string, string>();
  let failures = 0;
  const journal: OutcomeJournal = {
    async keep(outcome) {
      if (failures > 0) {
        failures--;
        throw new Error('Redis is unavailable (fake)');
      }
      entries.set(outcome.target.email.id, encode(outcome));
    },
    async pending(limit) {
      return [...entries.values()].slice(0, limit).map(decode);
    },
    async settle(id) {
      entries.delete(id);
    },
  };
  return Object.assign(journal, { entries, failNext: () => void failures++ });
}

export interface DrainResult {
  readonly applied: number;
  /** superseded by another claim or already in another state: logged, then forgotten */
  readonly dropped: number;
  /** still not writable (Postgres still down): left for the next drain */
  readonly left: number;
}

/**
 * Applies kept outcomes to the ledger (the same fenced recordSent): applied or refused for good
 * (another claim holds the row, or it moved on) → forgotten; refused for now (Postgres still
 * down) → left, and the drain stops for this round.
 */
export async function drainOutcomes(
  journal: OutcomeJournal,
  store: Pick<EmailStore, 'recordSent'>,
  log: { info(m: string, f?: object): unknown; error(m: string, f?: object): unknown },
  limit = 100,
): Promise<DrainResult> {
  const pending = await journal.pending(limit);
  let applied = 0;
  let dropped = 0;
  for (const [i, o] of pending.entries()) {
    const fields = { campaignEmailId: o.target.email.id, workspaceId: o.workspaceId, messageId: o.record.messageId, claim: o.record.claim };
    try {
      await store.recordSent(o.workspaceId, o.target, o.record);
      applied++;
      log.info('kept send outcome applied to the ledger', fields);
    } catch (err) {
      const name = (err as Error)?.name;
      if (name !== 'ClaimLostError' && name !== 'LedgerStateError' && name !== 'RecordNotFoundError' && name !== 'TenancyError') {
        return { applied, dropped, left: pending.length - i };
      }
      dropped++;
      log.error('kept send outcome cannot be applied: SES accepted this email, the ledger holds another outcome', { ...fields, err: (err as Error).message });
    }
    await journal.settle(o.target.email.id);
  }
  return { applied, dropped, left: 0 };
}
