import {
  addSuppression,
  findAiDraft,
  findMeetingRequest,
  findReplyAnalysis,
  getConversationSummary,
  getLead,
  getWorkspace,
  holdAiTokens,
  insertAiDraft,
  insertMeetingRequest,
  insertMessageSentiments,
  insertReplyAnalysis,
  insertSentimentAlerts,
  listMeetingAvailability,
  listThreadSentiments,
  scoredMessageIds,
  settleAiTokens,
  updateThreadSentiment,
  upsertConversationContext,
  upsertConversationThread,
  withTransaction,
  workspaceAiSettings,
  workspaceEmailSettings,
  type Pool,
} from '@coldcopy/db';
import type { AiStore } from './ai-store.js';

export interface PgAiStoreOptions {
  /** a hold untouched this long is released by the next hold of its workspace (its job died for good) */
  readonly staleHoldMs: number;
}

export function createPgAiStore(pool: Pool, options: PgAiStoreOptions): AiStore {
  return {
    async workspaceAi(workspaceId) {
      const ws = await getWorkspace(pool, workspaceId);
      return { ...workspaceAiSettings(ws.settings), senderName: workspaceEmailSettings(ws).senderName };
    },
    holdTokens: (workspaceId, jobId, tokens) =>
      withTransaction(pool, (db) => holdAiTokens(db, workspaceId, { jobId, tokens, staleAfterMs: options.staleHoldMs })),
    settleTokens: (workspaceId, settlement) => withTransaction(pool, (db) => settleAiTokens(db, workspaceId, settlement)),

    scoredMessageIds: (workspaceId, ids) => scoredMessageIds(pool, workspaceId, ids),
    recordSentiments: (workspaceId, record, assess, settlement) =>
      withTransaction(pool, async (db) => {
        const threadId = await upsertConversationThread(db, workspaceId, record);
        const inserted = await insertMessageSentiments(db, workspaceId, threadId, record.leadId, record.results);
        const history = await listThreadSentiments(db, workspaceId, threadId);
        const { aggregate, alerts } = assess(history, inserted);
        await updateThreadSentiment(db, workspaceId, threadId, { ...aggregate, messageCount: record.messageCount });
        const alertCount = await insertSentimentAlerts(db, workspaceId, threadId, record.leadId, alerts);
        await settleAiTokens(db, workspaceId, settlement);
        return { threadId, analyzed: inserted.size, alerts: alertCount };
      }),

    findReplyAnalysis: (workspaceId, messageId) => findReplyAnalysis(pool, workspaceId, messageId),
    conversationSummary: (workspaceId, threadId) => getConversationSummary(pool, workspaceId, threadId),
    recordReplyAnalysis: (workspaceId, analysis, context, suppress, settlement) =>
      withTransaction(pool, async (db) => {
        const stored = await insertReplyAnalysis(db, workspaceId, analysis);
        await upsertConversationContext(db, workspaceId, {
          threadId: analysis.threadId,
          leadId: analysis.leadId,
          summary: context.summary,
          lastIntent: analysis.intent,
          at: context.at,
        });
        if (suppress) {
          await addSuppression(db, workspaceId, {
            email: suppress.email,
            type: 'unsubscribe',
            source: 'webhook',
            reason: 'reply asked to unsubscribe (generate-smart-reply)',
            metadata: { message_id: analysis.messageId },
          });
        }
        await settleAiTokens(db, workspaceId, settlement);
        return stored;
      }),

    findMeetingRequest: (workspaceId, messageId) => findMeetingRequest(pool, workspaceId, messageId),
    availability: (workspaceId) => listMeetingAvailability(pool, workspaceId),
    recordMeetingRequest: (workspaceId, request, settlement) =>
      withTransaction(pool, async (db) => {
        const stored = request ? await insertMeetingRequest(db, workspaceId, request) : undefined;
        await settleAiTokens(db, workspaceId, settlement);
        return stored ? { id: stored.id } : undefined;
      }),

    findDraft: (workspaceId, jobId) => findAiDraft(pool, workspaceId, jobId),
    async leadProfile(workspaceId, leadId) {
      const lead = await getLead(pool, workspaceId, leadId);
      const name = [lead.first_name, lead.last_name].filter(Boolean).join(' ');
      return {
        ...(name ? { name } : {}),
        ...(lead.company ? { company: lead.company } : {}),
        ...(lead.title ? { title: lead.title } : {}),
        ...(lead.industry ? { industry: lead.industry } : {}),
      };
    },
    recordDraft: (workspaceId, draft, settlement) =>
      withTransaction(pool, async (db) => {
        const stored = await insertAiDraft(db, workspaceId, draft);
        await settleAiTokens(db, workspaceId, settlement);
        return stored;
      }),
  };
}
