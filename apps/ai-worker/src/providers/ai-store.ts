import type {
  AiDraft,
  AiDraftInput,
  AiUsageCall,
  AvailabilityWindow,
  HoldResult,
  MeetingRequestInput,
  MessageSentimentInput,
  ReplyAnalysisInput,
  ScoredMessage,
  SentimentAlertInput,
  SettleResult,
  StoredReplyAnalysis,
} from '@coldcopy/db';

/**
 * Everything the AI handlers read and write in Postgres (real: pg-ai-store.ts on @coldcopy/db's
 * repositories). Results are stored in the same transaction as the settlement of the job's
 * tokens (`settle`), so a job's result and its charge commit together or not at all.
 */
export interface Settlement {
  readonly jobId: string;
  readonly calls: readonly AiUsageCall[];
}

export interface WorkspaceAi {
  readonly provider?: string;
  readonly model?: string;
  /** `email.sender_name`, to sign generated emails */
  readonly senderName?: string;
}

export interface LeadProfile {
  readonly name?: string;
  readonly company?: string;
  readonly title?: string;
  readonly industry?: string;
}

export interface SentimentRecord {
  readonly threadKey: string;
  readonly leadId?: string;
  readonly channel: string;
  readonly lastMessageAt: Date;
  readonly messageCount: number;
  readonly results: readonly MessageSentimentInput[];
}

/** Computes aggregates and alerts from the thread's scored messages and the ids just inserted. */
export type SentimentAssessor = (
  history: readonly ScoredMessage[],
  inserted: ReadonlySet<string>,
) => { aggregate: { score: number | null; trend: 'improving' | 'stable' | 'declining' | null }; alerts: SentimentAlertInput[] };

export interface AiStore {
  workspaceAi(workspaceId: string): Promise<WorkspaceAi>;
  holdTokens(workspaceId: string, jobId: string, tokens: number): Promise<HoldResult>;
  /** settles without a result (a failed job: the hold goes back, consumed tokens are charged) */
  settleTokens(workspaceId: string, settlement: Settlement): Promise<SettleResult>;

  scoredMessageIds(workspaceId: string, messageIds: readonly string[]): Promise<Set<string>>;
  recordSentiments(
    workspaceId: string,
    record: SentimentRecord,
    assess: SentimentAssessor,
    settlement: Settlement,
  ): Promise<{ threadId: string; analyzed: number; alerts: number }>;

  findReplyAnalysis(workspaceId: string, messageId: string): Promise<StoredReplyAnalysis | undefined>;
  conversationSummary(workspaceId: string, threadId: string): Promise<string | undefined>;
  recordReplyAnalysis(
    workspaceId: string,
    analysis: ReplyAnalysisInput,
    context: { summary: string; at: Date },
    /** an unsubscribe intent: the sender's address goes on the suppression list in the same transaction */
    suppress: { email: string } | undefined,
    settlement: Settlement,
  ): Promise<StoredReplyAnalysis>;

  findMeetingRequest(workspaceId: string, messageId: string): Promise<{ id: string; confidence: number } | undefined>;
  availability(workspaceId: string): Promise<AvailabilityWindow[]>;
  recordMeetingRequest(workspaceId: string, request: MeetingRequestInput | undefined, settlement: Settlement): Promise<{ id: string } | undefined>;

  findDraft(workspaceId: string, jobId: string): Promise<AiDraft | undefined>;
  leadProfile(workspaceId: string, leadId: string): Promise<LeadProfile>;
  recordDraft(workspaceId: string, draft: AiDraftInput, settlement: Settlement): Promise<AiDraft>;
}
