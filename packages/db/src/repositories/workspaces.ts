import { RecordNotFoundError } from '../errors.js';
import type { Queryable } from '../pool.js';
import type { WorkspaceRow } from '../types.js';
import { assertWorkspaceId } from './scope.js';

/** The job's own workspace (settings, plan, AI token balance). Deleted workspaces count as missing. */
export async function getWorkspace(db: Queryable, workspaceId: string): Promise<WorkspaceRow> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<WorkspaceRow>('SELECT * FROM workspaces WHERE id = $1 AND deleted_at IS NULL', [workspaceId]);
  const row = rows[0];
  if (!row) throw new RecordNotFoundError('workspaces', workspaceId);
  return row;
}

export interface WorkspaceEmailSettings {
  senderEmail: string | undefined;
  senderName: string | undefined;
  replyToEmail: string | undefined;
  /** postal address for the footer (CAN-SPAM) */
  companyAddress: string | undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** The settings the email worker reads: email.sender_email, email.sender_name, email.reply_to_email, company.address. */
export function workspaceEmailSettings(workspace: Pick<WorkspaceRow, 'settings'>): WorkspaceEmailSettings {
  const email = (workspace.settings.email ?? {}) as Record<string, unknown>;
  const company = (workspace.settings.company ?? {}) as Record<string, unknown>;
  return {
    senderEmail: str(email.sender_email),
    senderName: str(email.sender_name),
    replyToEmail: str(email.reply_to_email),
    companyAddress: str(company.address),
  };
}
