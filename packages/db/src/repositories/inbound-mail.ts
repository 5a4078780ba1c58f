import type { Queryable } from '../pool.js';
import type { JsonObject } from '../types.js';
import { assertAllInWorkspace, assertId, assertWorkspaceId } from './scope.js';

/*
 * Inbound mail (SES receiving → process-webhook): the inbox that owns a recipient address, the
 * threads and messages of a workspace's inbox (email_threads, email_messages), and the marks the
 * reply analysis leaves. Every function takes the workspace first and scopes every statement by
 * it, except findInboundInboxes: the recipient address is how a message finds its workspace.
 */

/** An address of ours. mailboxId null: the workspace's reply-to address. */
export interface InboundInboxRow {
  readonly workspaceId: string;
  readonly address: string;
  readonly mailboxId: string | null;
}

/**
 * The one lookup without a workspace: mailboxes and workspace reply-to addresses (settings
 * email.reply_to_email) among the recipients, of workspaces not deleted. A mailbox wins over an
 * equal reply-to address of the same workspace. Returns ids and addresses only.
 */
export async function findInboundInboxes(db: Queryable, recipients: readonly string[]): Promise<InboundInboxRow[]> {
  if (recipients.length === 0) return [];
  const { rows } = await db.query<{ workspace_id: string; address: string; mailbox_id: string | null }>(
    `SELECT m.workspace_id, m.email AS address, m.id AS mailbox_id
     FROM mailboxes m JOIN workspaces w ON w.id = m.workspace_id
     WHERE m.email = ANY($1::text[]) AND w.deleted_at IS NULL
     UNION
     SELECT w.id, lower(btrim(w.settings #>> '{email,reply_to_email}')), NULL
     FROM workspaces w
     WHERE w.deleted_at IS NULL AND lower(btrim(w.settings #>> '{email,reply_to_email}')) = ANY($1::text[])`,
    [recipients],
  );
  const mailboxes = new Set(rows.filter((r) => r.mailbox_id).map((r) => `${r.workspace_id}/${r.address}`));
  return rows
    .filter((r) => r.mailbox_id || !mailboxes.has(`${r.workspace_id}/${r.address}`))
    .map((r) => ({ workspaceId: r.workspace_id, address: r.address, mailboxId: r.mailbox_id }));
}

/** A stored message of the workspace's inbox (not of a spam thread) with its thread. */
export interface ThreadedMessageRow {
  readonly message_id: string;
  readonly thread_id: string;
  readonly lead_id: string | null;
  readonly campaign_id: string | null;
  /** metadata.campaign_email_id: the send it answered, as stored (not checked to be a uuid) */
  readonly campaign_email_id: string | null;
}

/** Stored messages of the workspace with these Message-IDs, in threads that are not spam. */
export async function findThreadedMessages(db: Queryable, workspaceId: string, messageIds: readonly string[]): Promise<ThreadedMessageRow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<ThreadedMessageRow>(
    `SELECT m.message_id, t.id AS thread_id, t.lead_id, t.campaign_id, m.metadata->>'campaign_email_id' AS campaign_email_id
     FROM email_messages m JOIN email_threads t ON t.id = m.thread_id AND t.workspace_id = m.workspace_id
     WHERE m.workspace_id = $1 AND m.message_id = ANY($2::text[]) AND t.status <> 'spam'`,
    [workspaceId, messageIds],
  );
  return rows;
}

/**
 * Serialises the storing of inbound mail under `key` until the transaction ends (an advisory
 * transaction lock on hashtext(key)): CALL IT INSIDE A TRANSACTION. The key must name the
 * workspace (e.g. `inbound:<workspace>:<lead or Message-ID>`).
 */
export async function lockInboundMail(tx: Queryable, workspaceId: string, key: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
}

/** True when the workspace has stored a message with this Message-ID. */
export async function hasEmailMessage(db: Queryable, workspaceId: string, messageId: string): Promise<boolean> {
  assertWorkspaceId(workspaceId);
  const seen = await db.query('SELECT 1 FROM email_messages WHERE workspace_id = $1 AND message_id = $2', [workspaceId, messageId]);
  return (seen.rowCount ?? 0) > 0;
}

/** The latest thread of the lead in the campaign (null campaign: threads without one) that is not spam. */
export async function findLatestLeadThread(db: Queryable, workspaceId: string, leadId: string, campaignId: string | null): Promise<string | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM email_threads
     WHERE workspace_id = $1 AND lead_id = $2 AND campaign_id IS NOT DISTINCT FROM $3::uuid AND status <> 'spam'
     ORDER BY last_message_at DESC NULLS LAST, created_at DESC LIMIT 1`,
    [workspaceId, leadId, campaignId],
  );
  return rows[0]?.id ?? null;
}

export interface NewEmailThread {
  readonly leadId: string | null;
  readonly campaignId: string | null;
  readonly mailboxId: string | null;
  readonly subject: string | null;
  readonly status: 'open' | 'spam';
  readonly lastMessageAt: Date;
}

/**
 * A new inbox thread of the workspace; returns its id. email_threads references its lead, campaign
 * and mailbox by id alone (no composite key), so the statement itself checks that each given id
 * is the workspace's: one round trip when they are, TenancyError (or RecordNotFoundError) when one
 * is not, and nothing is written.
 */
export async function insertEmailThread(db: Queryable, workspaceId: string, thread: NewEmailThread): Promise<string> {
  assertWorkspaceId(workspaceId);
  if (thread.leadId) assertId('leads', thread.leadId);
  if (thread.campaignId) assertId('campaigns', thread.campaignId);
  if (thread.mailboxId) assertId('mailboxes', thread.mailboxId);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO email_threads (workspace_id, lead_id, campaign_id, mailbox_id, subject, status, last_message_at)
     SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::text, $6::text, $7::timestamptz
     WHERE ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM leads WHERE id = $2 AND workspace_id = $1))
       AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM campaigns WHERE id = $3 AND workspace_id = $1))
       AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM mailboxes WHERE id = $4 AND workspace_id = $1))
     RETURNING id`,
    [workspaceId, thread.leadId, thread.campaignId, thread.mailboxId, thread.subject, thread.status, thread.lastMessageAt],
  );
  if (rows[0]) return rows[0].id;
  if (thread.leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [thread.leadId]);
  if (thread.campaignId) await assertAllInWorkspace(db, 'campaigns', workspaceId, [thread.campaignId]);
  if (thread.mailboxId) await assertAllInWorkspace(db, 'mailboxes', workspaceId, [thread.mailboxId]);
  throw new Error('email_threads: insert matched no row although every id belongs to the workspace');
}

export interface NewInboundMessage {
  readonly threadId: string;
  readonly messageId: string;
  readonly inReplyTo: string | null;
  readonly fromEmail: string;
  readonly toEmails: readonly string[];
  readonly subject: string | null;
  readonly bodyText: string | null;
  readonly bodyHtml: string | null;
  readonly headers: JsonObject;
  readonly metadata: JsonObject;
  readonly sentAt: Date | null;
  readonly receivedAt: Date;
}

/**
 * Stores an inbound message in the workspace; returns its id, or null when the workspace already
 * has this Message-ID (unique per workspace: nothing is written).
 */
export async function insertInboundEmailMessage(db: Queryable, workspaceId: string, message: NewInboundMessage): Promise<string | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO email_messages (workspace_id, thread_id, message_id, in_reply_to, direction, from_email, to_emails, subject,
                                 body_text, body_html, headers, metadata, sent_at, received_at)
     VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (workspace_id, message_id) DO NOTHING
     RETURNING id`,
    [
      workspaceId,
      message.threadId,
      message.messageId,
      message.inReplyTo,
      message.fromEmail,
      [...message.toEmails],
      message.subject,
      message.bodyText,
      message.bodyHtml,
      message.headers,
      message.metadata,
      message.sentAt,
      message.receivedAt,
    ],
  );
  return rows[0]?.id ?? null;
}

/** One more message in the thread: message_count + 1, last_message_at never moved back. */
export async function addMessageToThread(db: Queryable, workspaceId: string, threadId: string, at: Date): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE email_threads SET message_count = message_count + 1, last_message_at = greatest(coalesce(last_message_at, $3), $3)
     WHERE id = $1 AND workspace_id = $2`,
    [threadId, workspaceId, at],
  );
}

/** A stored genuine reply whose AI jobs are not confirmed yet (findPendingReplyAnalysis). */
export interface PendingReplyRow {
  readonly id: string;
  readonly thread_id: string;
  /** the lead of the send it answers */
  readonly lead_id: string;
  readonly from_email: string;
  /** metadata.from_name: the From display name */
  readonly from_name: string | null;
  readonly body_text: string | null;
  readonly received_at: Date | null;
  readonly created_at: Date;
}

/**
 * The stored copy of a Message-ID in the workspace when it is a genuine reply whose AI jobs are
 * not confirmed yet (markEmailMessageAnalysed): inbound, email_type `reply` (a person's answer to
 * one of our sends; auto-replies, delivery reports and unanswered mail have other types), not
 * quarantined, no `ai_jobs_enqueued_at`, and answering a send of the workspace (its lead is the
 * send's). Null otherwise.
 */
export async function findPendingReplyAnalysis(db: Queryable, workspaceId: string, messageId: string): Promise<PendingReplyRow | null> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<PendingReplyRow>(
    `SELECT m.id, m.thread_id, ce.lead_id, m.from_email, m.metadata->>'from_name' AS from_name, m.body_text, m.received_at, m.created_at
     FROM email_messages m
     JOIN campaign_emails ce ON ce.workspace_id = m.workspace_id
      AND ce.id = CASE WHEN m.metadata->>'campaign_email_id' ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                       THEN (m.metadata->>'campaign_email_id')::uuid END
     WHERE m.workspace_id = $1 AND m.message_id = $2 AND m.direction = 'inbound'
       AND m.metadata->>'email_type' = 'reply' AND NOT m.metadata ? 'quarantined' AND NOT m.metadata ? 'ai_jobs_enqueued_at'`,
    [workspaceId, messageId],
  );
  return rows[0] ?? null;
}

/**
 * Records on a stored message (metadata.ai_jobs_enqueued_at = now()) that its AI jobs were handed
 * to the queue. Idempotent: the first mark is kept; a message of another workspace matches nothing.
 */
export async function markEmailMessageAnalysed(db: Queryable, workspaceId: string, emailMessageId: string): Promise<void> {
  assertWorkspaceId(workspaceId);
  await db.query(
    `UPDATE email_messages SET metadata = metadata || jsonb_build_object('ai_jobs_enqueued_at', now())
     WHERE id = $1 AND workspace_id = $2 AND NOT metadata ? 'ai_jobs_enqueued_at'`,
    [emailMessageId, workspaceId],
  );
}
