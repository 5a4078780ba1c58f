import type { Queryable } from '../pool.js';
import { assertAllInWorkspace, assertWorkspaceId } from './scope.js';

/** generate-smart-reply's tables: message_analysis, reply_suggestions, conversation_context. */

export interface StoredReplyAnalysis {
  readonly analysisId: string;
  readonly intent: string | null;
  readonly suggestionIds: string[];
}

/** The analysis of a message stored before (a re-run returns it without a provider call). */
export async function findReplyAnalysis(db: Queryable, workspaceId: string, messageId: string): Promise<StoredReplyAnalysis | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string; intent: string | null; suggestion_ids: string[] }>(
    `SELECT a.id, a.intent,
            COALESCE(array_agg(s.id ORDER BY s.rank) FILTER (WHERE s.id IS NOT NULL), '{}') AS suggestion_ids
     FROM message_analysis a
     LEFT JOIN reply_suggestions s ON s.workspace_id = a.workspace_id AND s.analysis_id = a.id
     WHERE a.workspace_id = $1 AND a.message_id = $2
     GROUP BY a.id, a.intent`,
    [workspaceId, messageId],
  );
  const row = rows[0];
  return row ? { analysisId: row.id, intent: row.intent, suggestionIds: row.suggestion_ids } : undefined;
}

export interface ReplyAnalysisInput {
  readonly messageId: string;
  readonly threadId: string;
  readonly leadId?: string;
  readonly intent: string;
  readonly sentiment: string;
  readonly urgency: 'low' | 'medium' | 'high';
  readonly keyPoints: readonly string[];
  readonly questions: readonly string[];
  readonly confidence: number;
  readonly model: string;
  readonly suggestions: ReadonlyArray<{ content: string; tone: string }>;
}

/**
 * Stores the analysis and its suggestions. A concurrent run that stored first wins: its ids are
 * returned and nothing is written twice.
 */
export async function insertReplyAnalysis(db: Queryable, workspaceId: string, input: ReplyAnalysisInput): Promise<StoredReplyAnalysis> {
  assertWorkspaceId(workspaceId);
  if (input.leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [input.leadId]);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO message_analysis (workspace_id, message_id, thread_id, lead_id, intent, sentiment, urgency, key_points,
                                   questions, confidence, model)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (workspace_id, message_id) DO NOTHING
     RETURNING id`,
    [
      workspaceId,
      input.messageId,
      input.threadId,
      input.leadId ?? null,
      input.intent,
      input.sentiment,
      input.urgency,
      JSON.stringify(input.keyPoints),
      JSON.stringify(input.questions),
      input.confidence,
      input.model,
    ],
  );
  const analysisId = rows[0]?.id;
  if (!analysisId) return (await findReplyAnalysis(db, workspaceId, input.messageId))!;
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO reply_suggestions (workspace_id, analysis_id, message_id, content, tone, rank, model)
     SELECT $1, $2, $3, s.content, s.tone, s.rank, $4
     FROM jsonb_to_recordset($5::jsonb) AS s(content text, tone text, rank int)
     ORDER BY s.rank
     RETURNING id`,
    [workspaceId, analysisId, input.messageId, input.model, JSON.stringify(input.suggestions.map((s, i) => ({ ...s, rank: i + 1 })))],
  );
  return { analysisId, intent: input.intent, suggestionIds: inserted.rows.map((r) => r.id) };
}

/** The summary kept per conversation (our text, fed back as context to the next analysis). */
export async function getConversationSummary(db: Queryable, workspaceId: string, threadId: string): Promise<string | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ summary: string | null }>('SELECT summary FROM conversation_context WHERE workspace_id = $1 AND thread_id = $2', [
    workspaceId,
    threadId,
  ]);
  return rows[0]?.summary ?? undefined;
}

export async function upsertConversationContext(
  db: Queryable,
  workspaceId: string,
  context: { threadId: string; leadId?: string; summary: string; lastIntent: string; at: Date },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `INSERT INTO conversation_context (workspace_id, thread_id, lead_id, summary, context, message_count, last_message_at)
     VALUES ($1, $2, $3, $4, jsonb_build_object('last_intent', $5::text), 1, $6)
     ON CONFLICT (workspace_id, thread_id) DO UPDATE SET
       summary = EXCLUDED.summary,
       context = conversation_context.context || EXCLUDED.context,
       message_count = conversation_context.message_count + 1,
       last_message_at = GREATEST(conversation_context.last_message_at, EXCLUDED.last_message_at)`,
    [workspaceId, context.threadId, context.leadId ?? null, context.summary, context.lastIntent, context.at],
  );
}
