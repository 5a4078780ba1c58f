import type { Queryable } from '../pool.js';
import type { MailboxRow } from '../types.js';
import { assertId, assertWorkspaceId, refuse } from './scope.js';

/** A sending mailbox of the workspace. */
export async function getMailbox(db: Queryable, workspaceId: string, mailboxId: string): Promise<MailboxRow> {
  assertWorkspaceId(workspaceId);
  assertId('mailboxes', mailboxId);
  const { rows } = await db.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = $1 AND workspace_id = $2', [mailboxId, workspaceId]);
  return rows[0] ?? refuse(db, 'mailboxes', workspaceId, mailboxId);
}
