import type { EnrichmentProvider, Lookup, PersonData, PersonQuery } from './enrichment-provider.js';

/**
 * Groups the person lookups of concurrent jobs into the provider's bulk request (Apollo
 * `people/bulk_match`, at most `maxBulk` people): a lookup waits at most `lingerMs` for others to
 * join, a full group leaves at once. Each caller gets its own person's result (in input order) or
 * the bulk request's error, so every job keeps its own ledger row, charge and failure handling:
 * a rate answer defers every member, a 5xx is retried by each member's job.
 *
 * Cancellation: a member whose signal aborts is rejected at once with its reason; the request
 * itself is aborted only when every member has aborted (the others still want their answer).
 */
export interface PeopleBatcher {
  find(query: PersonQuery, signal: AbortSignal): Promise<Lookup<PersonData>>;
}

export interface PeopleBatcherOptions {
  /** longest wait for other lookups to join a group */
  readonly lingerMs: number;
}

interface Member {
  readonly query: PersonQuery;
  readonly signal: AbortSignal;
  readonly resolve: (lookup: Lookup<PersonData>) => void;
  readonly reject: (err: unknown) => void;
  settled: boolean;
}

type BulkProvider = EnrichmentProvider & Required<Pick<EnrichmentProvider, 'findPeople' | 'maxBulk'>>;

export const hasBulkPeople = (p: EnrichmentProvider): p is BulkProvider => typeof p.findPeople === 'function' && (p.maxBulk ?? 0) > 1;

export function createPeopleBatcher(provider: BulkProvider, options: PeopleBatcherOptions): PeopleBatcher {
  const max = provider.maxBulk;
  let waiting: Member[] = [];
  let timer: NodeJS.Timeout | undefined;

  const send = (group: Member[]) => {
    const controller = new AbortController();
    for (const m of group) {
      m.signal.addEventListener(
        'abort',
        () => {
          if (m.settled) return;
          m.settled = true;
          m.reject(m.signal.reason);
          if (group.every((g) => g.settled)) controller.abort(m.signal.reason);
        },
        { once: true },
      );
    }
    provider
      .findPeople(
        group.map((m) => m.query),
        controller.signal,
      )
      .then(
        (results) =>
          group.forEach((m, i) => {
            if (m.settled) return;
            m.settled = true;
            const r = results[i];
            if (r) m.resolve(r);
            else m.reject(new Error(`${provider.name}: bulk answer without a result for person ${i + 1} of ${group.length}`));
          }),
        (err: unknown) =>
          group.forEach((m) => {
            if (m.settled) return;
            m.settled = true;
            m.reject(err);
          }),
      );
  };

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (waiting.length > 0) {
      const live = waiting.filter((m) => !m.settled);
      const group = live.slice(0, max);
      waiting = live.slice(max);
      if (group.length > 0) send(group);
      if (waiting.length < max) break;
    }
    if (waiting.length > 0) timer = setTimeout(flush, options.lingerMs);
  };

  return {
    find(query, signal) {
      if (signal.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        const member: Member = { query, signal, resolve, reject, settled: false };
        signal.addEventListener(
          'abort',
          () => {
            // still waiting for its group: it leaves; sent: see send()
            if (member.settled || !waiting.includes(member)) return;
            member.settled = true;
            reject(signal.reason);
          },
          { once: true },
        );
        waiting.push(member);
        if (waiting.length >= max) flush();
        else timer ??= setTimeout(flush, options.lingerMs);
      });
    },
  };
}
