-- Up Migration
-- Inbound replies (process-webhook, SES email receiving).
--
-- email_messages.message_id was UNIQUE across all workspaces. One message can legitimately reach
-- mailboxes of two workspaces (both addressed, or two workspaces that connected the same
-- mailbox), and each tenant keeps its own copy; a global key also lets one tenant's insert probe
-- whether another tenant holds a Message-ID. Unique per workspace instead: it is the inbound
-- dedupe key (the same Message-ID arriving twice is stored and applied once).
ALTER TABLE email_messages DROP CONSTRAINT email_messages_message_id_key;
ALTER TABLE email_messages ADD CONSTRAINT email_messages_workspace_message_id_key UNIQUE (workspace_id, message_id);

-- Inbound mail is routed by recipient address before its workspace is known: a mailbox address
-- (UNIQUE (workspace_id, email) does not serve a lookup by email alone) ...
CREATE INDEX mailboxes_email_idx ON mailboxes (email);
-- ... or a workspace's reply-to address (settings.email.reply_to_email, the Reply-To of our sends).
CREATE INDEX workspaces_reply_to_email_idx ON workspaces ((lower(btrim(settings #>> '{email,reply_to_email}'))))
  WHERE deleted_at IS NULL;
