import type { Queryable } from '../pool.js';
import { assertWorkspaceId } from './scope.js';

/**
 * AI token budgets (domain.md §5, migration 20261206200000000): a job holds an estimate before
 * its provider calls and settles to the reported usage afterwards.
 *
 * Exactly once: the reservation row (workspace, Bull job id) makes a retried, stalled or doubly
 * run job hold its estimate once; the usage rows' unique `call_key` make each provider call count
 * once. Both functions run inside the caller's transaction (`withTransaction`), which they lock
 * through the reservation row.
 */

export interface HoldResult {
  readonly ok: boolean;
  /** tokens this job holds after the call */
  readonly held: number;
  /** the workspace's balance after the call (what is left to hold) */
  readonly balance: number;
}

/** Locks (creating it if needed) the reservation row of a job. */
async function lockReservation(db: Queryable, workspaceId: string, jobId: string): Promise<{ status: 'held' | 'closed'; held: number }> {
  await db.query(
    `INSERT INTO ai_token_reservations (workspace_id, job_id, status) VALUES ($1, $2, 'closed')
     ON CONFLICT (workspace_id, job_id) DO NOTHING`,
    [workspaceId, jobId],
  );
  const { rows } = await db.query<{ status: 'held' | 'closed'; held_tokens: string }>(
    'SELECT status, held_tokens FROM ai_token_reservations WHERE workspace_id = $1 AND job_id = $2 FOR UPDATE',
    [workspaceId, jobId],
  );
  return { status: rows[0]!.status, held: Number(rows[0]!.held_tokens) };
}

/**
 * Makes the job hold at least `tokens`: takes the missing part from the workspace's balance, or
 * refuses (`ok: false`, nothing changed) when the balance cannot cover it. A job that already
 * holds enough (a retry, a stalled job run again) takes nothing more. Holds of other jobs of the
 * workspace untouched for `staleAfterMs` (their job died and was never retried) go back to the
 * balance first.
 */
export async function holdAiTokens(db: Queryable, workspaceId: string, hold: { jobId: string; tokens: number; staleAfterMs: number }): Promise<HoldResult> {
  assertWorkspaceId(workspaceId);
  if (!Number.isInteger(hold.tokens) || hold.tokens < 0) throw new RangeError(`tokens must be a non-negative integer, got ${hold.tokens}`);
  await db.query(
    `WITH stale AS (
       SELECT job_id, held_tokens FROM ai_token_reservations
       WHERE workspace_id = $1 AND status = 'held' AND job_id <> $2 AND updated_at < now() - make_interval(secs => $3::float8 / 1000)
       FOR UPDATE SKIP LOCKED
     ), released AS (
       UPDATE ai_token_reservations r SET status = 'closed', held_tokens = 0
       FROM stale s WHERE r.workspace_id = $1 AND r.job_id = s.job_id
       RETURNING s.held_tokens
     )
     UPDATE workspaces SET ai_tokens_balance = ai_tokens_balance + (SELECT sum(held_tokens) FROM released)
     WHERE id = $1 AND EXISTS (SELECT 1 FROM released)`,
    [workspaceId, hold.jobId, hold.staleAfterMs],
  );
  const current = await lockReservation(db, workspaceId, hold.jobId);
  const already = current.status === 'held' ? current.held : 0;
  const extra = Math.max(0, hold.tokens - already);
  const { rows } = await db.query<{ ai_tokens_balance: string }>(
    `UPDATE workspaces SET ai_tokens_balance = ai_tokens_balance - $2
     WHERE id = $1 AND deleted_at IS NULL AND ai_tokens_balance >= $2
     RETURNING ai_tokens_balance`,
    [workspaceId, extra],
  );
  if (rows.length === 0) {
    const balance = await db.query<{ ai_tokens_balance: string }>('SELECT ai_tokens_balance FROM workspaces WHERE id = $1', [workspaceId]);
    return { ok: false, held: already, balance: Number(balance.rows[0]?.ai_tokens_balance ?? 0) };
  }
  await db.query(
    `UPDATE ai_token_reservations SET status = 'held', held_tokens = $3, updated_at = now()
     WHERE workspace_id = $1 AND job_id = $2`,
    [workspaceId, hold.jobId, already + extra],
  );
  return { ok: true, held: already + extra, balance: Number(rows[0]!.ai_tokens_balance) };
}

export interface AiUsageCall {
  /** `<job id>:<run>:<call>`: unique, the guard against charging a call twice */
  readonly callKey: string;
  readonly userId?: string;
  readonly provider: string;
  /** as echoed by the API */
  readonly model: string;
  readonly requestId?: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cachedTokens: number;
  readonly cost: number;
  readonly priceVersion: string;
  /** the job name */
  readonly purpose: string;
  readonly latencyMs?: number;
  /** `ok` or the LlmError kind of a failed call that still consumed tokens */
  readonly outcome: string;
}

export interface SettleResult {
  /** tokens charged by this settlement (calls not recorded before) */
  readonly charged: number;
  readonly balance: number;
}

/**
 * Records the job's provider calls (one usage row each; calls already recorded are skipped) and
 * settles: the hold goes back to the balance and the new calls' tokens are charged, once. With no
 * hold left (a second run of a job that was settled already) the new calls are charged from the
 * balance directly: they happened.
 */
export async function settleAiTokens(db: Queryable, workspaceId: string, settle: { jobId: string; calls: readonly AiUsageCall[] }): Promise<SettleResult> {
  assertWorkspaceId(workspaceId);
  const current = await lockReservation(db, workspaceId, settle.jobId);
  let charged = 0;
  if (settle.calls.length > 0) {
    const { rows } = await db.query<{ tokens: string }>(
      `INSERT INTO ai_usage_logs (workspace_id, user_id, job_id, call_key, provider, model, request_id, input_tokens,
                                  output_tokens, cached_tokens, cost, price_version, purpose, latency_ms, outcome)
       SELECT $1, c."userId", $2, c."callKey", c.provider, c.model, c."requestId", c."inputTokens", c."outputTokens",
              c."cachedTokens", c.cost, c."priceVersion", c.purpose, c."latencyMs", c.outcome
       FROM jsonb_to_recordset($3::jsonb) AS c("userId" uuid, "callKey" text, provider text, model text, "requestId" text,
            "inputTokens" int, "outputTokens" int, "cachedTokens" int, cost numeric, "priceVersion" text, purpose text,
            "latencyMs" int, outcome text)
       ON CONFLICT (call_key) WHERE call_key IS NOT NULL DO NOTHING
       RETURNING input_tokens + output_tokens AS tokens`,
      [workspaceId, settle.jobId, JSON.stringify(settle.calls)],
    );
    charged = rows.reduce((sum, r) => sum + Number(r.tokens), 0);
  }
  const refund = current.status === 'held' ? current.held : 0;
  const { rows } = await db.query<{ ai_tokens_balance: string }>(
    `UPDATE workspaces SET ai_tokens_balance = ai_tokens_balance + $2 - $3, ai_tokens_used = ai_tokens_used + $3
     WHERE id = $1 RETURNING ai_tokens_balance`,
    [workspaceId, refund, charged],
  );
  await db.query(
    `UPDATE ai_token_reservations SET status = 'closed', held_tokens = 0, charged_tokens = charged_tokens + $3
     WHERE workspace_id = $1 AND job_id = $2`,
    [workspaceId, settle.jobId, charged],
  );
  return { charged, balance: Number(rows[0]?.ai_tokens_balance ?? 0) };
}

/** The AI settings a workspace may set (`settings.ai.provider`, `settings.ai.model`). */
export function workspaceAiSettings(settings: Record<string, unknown>): { provider?: string; model?: string } {
  const ai = (settings.ai ?? {}) as Record<string, unknown>;
  return {
    ...(typeof ai.provider === 'string' ? { provider: ai.provider } : {}),
    ...(typeof ai.model === 'string' && ai.model.trim() !== '' ? { model: ai.model } : {}),
  };
}
