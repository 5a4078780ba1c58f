import type { Queryable } from '../pool.js';
import { assertAllInWorkspace, assertWorkspaceId } from './scope.js';

/** analyze-sentiment's tables: conversation_threads, message_sentiments, sentiment_alerts. */

export interface ThreadUpsert {
  readonly threadKey: string;
  readonly leadId?: string;
  readonly channel: string;
  readonly lastMessageAt: Date;
}

/** The workspace's thread for a key (created on first use); returns its id. */
export async function upsertConversationThread(db: Queryable, workspaceId: string, thread: ThreadUpsert): Promise<string> {
  assertWorkspaceId(workspaceId);
  if (thread.leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [thread.leadId]);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO conversation_threads (workspace_id, thread_key, lead_id, channel, last_message_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (workspace_id, thread_key) DO UPDATE SET
       lead_id = COALESCE(EXCLUDED.lead_id, conversation_threads.lead_id),
       last_message_at = GREATEST(conversation_threads.last_message_at, EXCLUDED.last_message_at)
     RETURNING id`,
    [workspaceId, thread.threadKey, thread.leadId ?? null, thread.channel, thread.lastMessageAt],
  );
  return rows[0]!.id;
}

/** Ids among `messageIds` that already have a sentiment in this workspace. */
export async function scoredMessageIds(db: Queryable, workspaceId: string, messageIds: readonly string[]): Promise<Set<string>> {
  assertWorkspaceId(workspaceId);
  if (messageIds.length === 0) return new Set();
  const { rows } = await db.query<{ message_id: string }>(
    'SELECT message_id FROM message_sentiments WHERE workspace_id = $1 AND message_id = ANY($2::text[])',
    [workspaceId, [...messageIds]],
  );
  return new Set(rows.map((r) => r.message_id));
}

export interface MessageSentimentInput {
  readonly messageId: string;
  readonly isFromLead: boolean;
  readonly sentiment: 'positive' | 'neutral' | 'negative' | 'mixed';
  readonly score: number;
  readonly confidence: number;
  readonly emotions: Record<string, number>;
  readonly buyingSignals: readonly string[];
  readonly model: string | null;
  readonly analyzedAt: Date;
}

/** Inserts sentiments of a thread; an id scored before is skipped. Returns the ids inserted. */
export async function insertMessageSentiments(
  db: Queryable,
  workspaceId: string,
  threadId: string,
  leadId: string | undefined,
  items: readonly MessageSentimentInput[],
): Promise<Set<string>> {
  assertWorkspaceId(workspaceId);
  if (items.length === 0) return new Set();
  const { rows } = await db.query<{ message_id: string }>(
    `INSERT INTO message_sentiments (workspace_id, thread_id, message_id, lead_id, is_from_lead, sentiment, score, confidence,
                                     emotions, buying_signals, model, analyzed_at)
     SELECT $1, $2, i."messageId", $3, i."isFromLead", i.sentiment, i.score, i.confidence, i.emotions, i."buyingSignals",
            i.model, i."analyzedAt"
     FROM jsonb_to_recordset($4::jsonb) AS i("messageId" text, "isFromLead" boolean, sentiment text, score numeric,
          confidence numeric, emotions jsonb, "buyingSignals" jsonb, model text, "analyzedAt" timestamptz)
     ON CONFLICT (message_id) DO NOTHING
     RETURNING message_id`,
    [workspaceId, threadId, leadId ?? null, JSON.stringify(items)],
  );
  return new Set(rows.map((r) => r.message_id));
}

export interface ScoredMessage {
  readonly messageId: string;
  readonly isFromLead: boolean;
  readonly score: number;
  readonly confidence: number;
  readonly analyzedAt: Date;
}

/** Every scored message of a thread, oldest first (by the analysed message's own time). */
export async function listThreadSentiments(db: Queryable, workspaceId: string, threadId: string): Promise<ScoredMessage[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ message_id: string; is_from_lead: boolean; score: string; confidence: string; analyzed_at: Date }>(
    `SELECT message_id, is_from_lead, score, confidence, analyzed_at FROM message_sentiments
     WHERE workspace_id = $1 AND thread_id = $2 ORDER BY analyzed_at, message_id`,
    [workspaceId, threadId],
  );
  return rows.map((r) => ({
    messageId: r.message_id,
    isFromLead: r.is_from_lead,
    score: Number(r.score),
    confidence: Number(r.confidence),
    analyzedAt: r.analyzed_at,
  }));
}

export async function updateThreadSentiment(
  db: Queryable,
  workspaceId: string,
  threadId: string,
  aggregate: { score: number | null; trend: 'improving' | 'stable' | 'declining' | null; messageCount: number },
): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE conversation_threads SET sentiment_score = $3, sentiment_trend = $4, message_count = GREATEST(message_count, $5)
     WHERE workspace_id = $1 AND id = $2`,
    [workspaceId, threadId, aggregate.score, aggregate.trend, aggregate.messageCount],
  );
}

export interface SentimentAlertInput {
  readonly messageId: string;
  readonly severity: 'info' | 'warning' | 'critical';
  readonly alertType: string;
  /** our own wording, never the lead's text */
  readonly message: string;
  readonly score: number | null;
}

export async function insertSentimentAlerts(
  db: Queryable,
  workspaceId: string,
  threadId: string,
  leadId: string | undefined,
  alerts: readonly SentimentAlertInput[],
): Promise<number> {
  assertWorkspaceId(workspaceId);
  if (alerts.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO sentiment_alerts (workspace_id, thread_id, lead_id, message_id, severity, alert_type, message, score)
     SELECT $1, $2, $3, a."messageId", a.severity, a."alertType", a.message, a.score
     FROM jsonb_to_recordset($4::jsonb) AS a("messageId" text, severity text, "alertType" text, message text, score numeric)`,
    [workspaceId, threadId, leadId ?? null, JSON.stringify(alerts)],
  );
  return rowCount ?? 0;
}
