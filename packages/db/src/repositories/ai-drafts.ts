import type { Queryable } from '../pool.js';
import { assertAllInWorkspace, assertWorkspaceId } from './scope.js';

/** generate-email-content's drafts (ai_generated_drafts), one per job. */

export interface AiDraft {
  readonly id: string;
  readonly subject: string;
  readonly body: string;
  readonly provider: string;
  readonly model: string;
  readonly promptVersion: string;
  readonly tokens: number;
}

type DraftRow = { id: string; subject: string; body: string; provider: string; model: string; prompt_version: string; tokens: number };
const toDraft = (r: DraftRow): AiDraft => ({
  id: r.id,
  subject: r.subject,
  body: r.body,
  provider: r.provider,
  model: r.model,
  promptVersion: r.prompt_version,
  tokens: r.tokens,
});

export async function findAiDraft(db: Queryable, workspaceId: string, jobId: string): Promise<AiDraft | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<DraftRow>(
    'SELECT id, subject, body, provider, model, prompt_version, tokens FROM ai_generated_drafts WHERE workspace_id = $1 AND job_id = $2',
    [workspaceId, jobId],
  );
  return rows[0] ? toDraft(rows[0]) : undefined;
}

export interface AiDraftInput {
  readonly jobId: string;
  readonly userId: string;
  readonly leadId?: string;
  readonly campaignId?: string;
  readonly stepNumber?: number;
  readonly subject: string;
  readonly body: string;
  readonly provider: string;
  readonly model: string;
  readonly promptVersion: string;
  readonly tokens: number;
}

/** Stores the job's draft; a draft stored before for the job wins and is returned. */
export async function insertAiDraft(db: Queryable, workspaceId: string, draft: AiDraftInput): Promise<AiDraft> {
  assertWorkspaceId(workspaceId);
  if (draft.leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [draft.leadId]);
  if (draft.campaignId) await assertAllInWorkspace(db, 'campaigns', workspaceId, [draft.campaignId]);
  const { rows } = await db.query<DraftRow>(
    `INSERT INTO ai_generated_drafts (workspace_id, job_id, user_id, lead_id, campaign_id, step_number, subject, body, provider,
                                      model, prompt_version, tokens)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (workspace_id, job_id) DO NOTHING
     RETURNING id, subject, body, provider, model, prompt_version, tokens`,
    [
      workspaceId,
      draft.jobId,
      draft.userId,
      draft.leadId ?? null,
      draft.campaignId ?? null,
      draft.stepNumber ?? null,
      draft.subject,
      draft.body,
      draft.provider,
      draft.model,
      draft.promptVersion,
      draft.tokens,
    ],
  );
  return rows[0] ? toDraft(rows[0]) : (await findAiDraft(db, workspaceId, draft.jobId))!;
}
