/**
 * Which workspace an inbound message belongs to. Only the recipient address decides (domain.md:
 * "inbound mail mapped by recipient mailbox, never 'any workspace'"): an address of ours is a
 * mailbox (`mailboxes.email`, unique per workspace only) or a workspace's reply-to address
 * (`settings.email.reply_to_email`, which send-email puts in Reply-To). When one address belongs to
 * several workspaces, the message goes to the one workspace among them whose send it references
 * (In-Reply-To / References), else to the one whose latest send from that address went to the
 * sender; when that still leaves several (or none), it goes nowhere and is reported as ambiguous.
 * Headers and the sender never add a workspace that does not own a recipient address.
 */

/** An address of ours. mailboxId null: the workspace's reply-to address. */
export interface InboundInbox {
  readonly workspaceId: string;
  readonly address: string;
  readonly mailboxId: string | null;
}

/** One of our sends that an inbound message answers, in one workspace. */
export interface ReplyMatch {
  readonly campaignEmailId: string;
  readonly campaignId: string;
  readonly leadId: string;
  readonly mailboxId: string | null;
  /**
   * message-id: In-Reply-To/References names the send's SES Message-ID; thread: it names a message
   * of an inbox thread of that send; sender: the latest send from the inbox to the From address.
   */
  readonly via: 'message-id' | 'thread' | 'sender';
}

/** What one candidate workspace knows about the message (looked up inside that workspace only). */
export interface WorkspaceEvidence {
  /** a send or an inbox message of this workspace that the message references */
  readonly threaded: { readonly threadId: string | null; readonly reply: ReplyMatch | null; readonly leadId: string | null } | null;
  /** the latest send from the recipient inboxes to the sender's lead */
  readonly bySender: ReplyMatch | null;
  /** the lead with the From address, if the workspace has one */
  readonly leadId: string | null;
}

/** Where (and as what) to store the message: one per workspace. */
export interface InboundRoute {
  readonly workspaceId: string;
  /** the recipient addresses of this workspace */
  readonly addresses: readonly string[];
  readonly mailboxId: string | null;
  /** an existing inbox thread it continues */
  readonly threadId: string | null;
  /** the send it answers (the reply effects apply to it) */
  readonly reply: ReplyMatch | null;
  readonly leadId: string | null;
}

export interface InboundRouting {
  readonly routes: readonly InboundRoute[];
  /** recipient addresses that are no inbox of ours */
  readonly unknown: readonly string[];
  /** recipient addresses owned by several workspaces that the message could not tell apart */
  readonly ambiguous: readonly string[];
}

export function resolveInboundRoutes(
  recipients: readonly string[],
  inboxes: readonly InboundInbox[],
  evidence: ReadonlyMap<string, WorkspaceEvidence>,
): InboundRouting {
  const unknown: string[] = [];
  const ambiguous: string[] = [];
  const accepted = new Map<string, InboundInbox[]>();
  for (const address of new Set(recipients)) {
    const owners = inboxes.filter((i) => i.address === address);
    const workspaces = [...new Set(owners.map((o) => o.workspaceId))];
    if (workspaces.length === 0) {
      unknown.push(address);
      continue;
    }
    let chosen = workspaces;
    if (chosen.length > 1) {
      const threaded = chosen.filter((ws) => evidence.get(ws)?.threaded);
      chosen = threaded.length > 0 ? threaded : chosen.filter((ws) => evidence.get(ws)?.bySender);
    }
    if (chosen.length !== 1) {
      ambiguous.push(address);
      continue;
    }
    const ws = chosen[0]!;
    accepted.set(ws, [...(accepted.get(ws) ?? []), ...owners.filter((o) => o.workspaceId === ws)]);
  }

  const routes = [...accepted].map(([workspaceId, own]): InboundRoute => {
    const e = evidence.get(workspaceId);
    const reply = e?.threaded?.reply ?? e?.bySender ?? null;
    return {
      workspaceId,
      addresses: [...new Set(own.map((o) => o.address))],
      mailboxId: own.find((o) => o.mailboxId)?.mailboxId ?? reply?.mailboxId ?? null,
      threadId: e?.threaded?.threadId ?? null,
      reply,
      leadId: e?.threaded?.leadId ?? reply?.leadId ?? e?.leadId ?? null,
    };
  });
  return { routes, unknown, ambiguous };
}
