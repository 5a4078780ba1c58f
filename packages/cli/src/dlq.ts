import { parseArgs } from 'node:util';
import { isQueueName, QUEUE_NAMES, QueueUnavailableError } from '@coldcopy/queue-core';
import { clusterModeFromEnv, openDeadLetters, type DeadLetterEntry, type DeadLetterFilter } from '@coldcopy/queue-core/admin';
import { loadEnv, redisEnv } from '@coldcopy/queue-core/env';
import { jobSecurityFromEnv } from '@coldcopy/queue-core/producer';
import { z } from 'zod';
import type { CliIo } from './cli.js';

/** `pnpm jobs dlq list|show|replay|purge`: the dead-letter store (queue-core/src/dead-letters/store.ts). */

export const DLQ_USAGE = `  dlq list [--queue <q>] [--job <name>] [--older-than <30m|2h|7d>] [--limit <n>] [--json]
                                        dead-lettered jobs, newest first (data stays encrypted)
  dlq show <id> [--json]                one entry: error, stack, attempts, failure times, stored data
  dlq replay (<id>… | --all | filters) [--force] [--json]
                                        re-enqueue into the original queue under the original job id,
                                        re-signed (needs JOB_SIGNING_KEYS); --force re-signs jobs whose
                                        original signature does not verify
  dlq purge (<id>… | --all | filters) [--json]
                                        delete entries (the failed Bull jobs are left alone)
`;

const CODES = { ok: 0, failure: 1, usage: 2 } as const;

class DlqUsageError extends Error {}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `2h`, `7d` or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new DlqUsageError(`--older-than must look like 90s, 30m, 2h or 7d, got "${text}"`);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

const FILTER_OPTIONS = {
  queue: { type: 'string' },
  job: { type: 'string' },
  'older-than': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function filterFrom(values: { queue?: string; job?: string; 'older-than'?: string }): DeadLetterFilter {
  if (values.queue !== undefined && !isQueueName(values.queue)) {
    throw new DlqUsageError(`--queue must be one of ${QUEUE_NAMES.join(', ')}`);
  }
  return {
    queue: values.queue,
    jobName: values.job,
    olderThanMs: values['older-than'] !== undefined ? parseDuration(values['older-than']) : undefined,
  };
}

const hasFilter = (f: DeadLetterFilter) => f.queue !== undefined || f.jobName !== undefined || f.olderThanMs !== undefined;

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function table(entries: readonly DeadLetterEntry[], now: number): string {
  const header = ['id', 'job', 'attempts', 'error', 'age'];
  const rows = entries.map((e) => [e.id, e.jobName, String(e.attemptsMade), `${e.error.name}: ${e.error.message}`.slice(0, 80), age(now - e.lastFailedAt)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return (
    [header, ...rows]
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new QueueUnavailableError(`Redis did not answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runDlq(args: readonly string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'list':
      case 'show':
      case 'replay':
      case 'purge':
        return await withStore(sub, rest, io);
      default:
        io.stderr(`jobs: dlq needs one of list, show, replay, purge\n\n${DLQ_USAGE}`);
        return CODES.usage;
    }
  } catch (err) {
    if (err instanceof DlqUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') || (err as Error).name === 'ConfigError') {
      io.stderr(`jobs: ${(err as Error).message}\n`);
      return CODES.usage;
    }
    if (err instanceof QueueUnavailableError) {
      io.stderr(`jobs: ${err.message}\n`);
      return CODES.failure;
    }
    throw err;
  }
}

async function withStore(sub: 'list' | 'show' | 'replay' | 'purge', args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: { ...FILTER_OPTIONS, limit: { type: 'string' }, all: { type: 'boolean' }, force: { type: 'boolean' } },
  });
  const filter = filterFrom(values);
  if (sub === 'show' && positionals.length !== 1) throw new DlqUsageError('dlq show needs exactly one entry id (see `pnpm jobs dlq list`)');
  if ((sub === 'replay' || sub === 'purge') && positionals.length === 0 && !values.all && !hasFilter(filter)) {
    throw new DlqUsageError(`dlq ${sub} needs entry ids, a filter (--queue, --job, --older-than) or --all`);
  }
  if ((sub === 'replay' || sub === 'purge') && positionals.length > 0 && (values.all || hasFilter(filter))) {
    throw new DlqUsageError(`dlq ${sub}: give entry ids or filters, not both`);
  }
  let limit: number | undefined;
  if (values.limit !== undefined) {
    if (!/^\d+$/.test(values.limit) || Number(values.limit) < 1) throw new DlqUsageError('--limit must be a positive whole number');
    limit = Number(values.limit);
  }
  // Signing keys are checked before any connection: a replay must be able to re-sign.
  const security = sub === 'replay' ? jobSecurityFromEnv(io.env, (m) => io.stderr(`jobs: WARNING: ${m}\n`)) : undefined;
  const env = loadEnv(z.object(redisEnv), io.env);
  const dlq = openDeadLetters({ redisUrl: env.REDIS_URL, prefix: env.BULL_PREFIX, cluster: clusterModeFromEnv(io.env, env.BULL_PREFIX) });
  const now = Date.now();
  try {
    switch (sub) {
      case 'list': {
        const entries = await withTimeout(dlq.list({ ...filter, limit }), 10_000);
        if (values.json) io.stdout(`${JSON.stringify({ prefix: env.BULL_PREFIX, entries }, null, 2)}\n`);
        else if (entries.length === 0) io.stdout('no dead-lettered jobs\n');
        else io.stdout(table(entries, now));
        return CODES.ok;
      }
      case 'show': {
        const entry = await withTimeout(dlq.get(positionals[0]!), 5000);
        if (!entry) {
          io.stderr(`jobs: no dead letter "${positionals[0]}"\n`);
          return CODES.failure;
        }
        if (values.json) {
          io.stdout(`${JSON.stringify(entry, null, 2)}\n`);
          return CODES.ok;
        }
        io.stdout(
          [
            `id:            ${entry.id}`,
            `queue / job:   ${entry.queue} / ${entry.jobName} (job id ${entry.jobId})`,
            `workspace:     ${entry.workspaceId ?? '-'}`,
            `attempts:      ${entry.attemptsMade}`,
            `first failed:  ${new Date(entry.firstFailedAt).toISOString()}`,
            `last failed:   ${new Date(entry.lastFailedAt).toISOString()}`,
            `error:         ${entry.error.name}: ${entry.error.message}`,
            `stack:\n${(entry.error.stack ?? '').replace(/^/gm, '  ')}`,
            `data (as stored; sensitive fields stay encrypted):\n${JSON.stringify(entry.data, null, 2).replace(/^/gm, '  ')}`,
            '',
          ].join('\n'),
        );
        return CODES.ok;
      }
      case 'replay': {
        const ids = positionals.length > 0 ? positionals : (await withTimeout(dlq.list({ ...filter, limit }), 10_000)).map((e) => e.id);
        const outcomes = await withTimeout(dlq.replay(ids, { security: security!, force: values.force }), 60_000);
        if (values.json) io.stdout(`${JSON.stringify({ outcomes }, null, 2)}\n`);
        let failed = 0;
        for (const o of outcomes) {
          if (o.status === 'not-found' || o.status === 'refused') failed++;
          if (values.json) continue;
          if (o.status === 'replayed') io.stdout(`replayed ${o.id} as job ${o.jobId}\n`);
          else if (o.status === 'already-queued') io.stdout(`${o.id}: job ${o.jobId} is already ${o.state}; entry removed\n`);
          else if (o.status === 'not-found') io.stderr(`jobs: no dead letter "${o.id}" (already replayed or purged?)\n`);
          else io.stderr(`jobs: refused to replay ${o.id}: ${o.reason}\n`);
        }
        if (!values.json && outcomes.length === 0) io.stdout('nothing to replay\n');
        return failed > 0 ? CODES.failure : CODES.ok;
      }
      case 'purge': {
        const removed =
          positionals.length > 0 ? await withTimeout(dlq.remove(positionals), 10_000) : await withTimeout(dlq.purge({ ...filter, limit }), 60_000);
        if (values.json) io.stdout(`${JSON.stringify({ removed }, null, 2)}\n`);
        else io.stdout(`purged ${removed} dead-letter entr${removed === 1 ? 'y' : 'ies'}\n`);
        return CODES.ok;
      }
    }
  } finally {
    await dlq.close();
  }
}
