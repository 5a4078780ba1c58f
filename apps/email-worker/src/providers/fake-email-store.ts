import { randomUUID } from 'node:crypto';
import type { CampaignEmailRow, CampaignLeadRow, CampaignRow, CampaignStepRow, LeadRow, MailboxRow } from '@coldcopy/db';
import type { EmailStore, SendContext, SentRecord } from './email-store.js';

/**
 * In-memory EmailStore with the ledger's state machine (claim only from scheduled|retryable,
 * sent/unknown/failed only from sending), for handler tests. One workspace, one campaign, any
 * number of leads; build it with `createFakeEmailStore()` and `addSend()`.
 */
export function createFakeEmailStore(options: { now?: () => Date } = {}) {
  const now = options.now ?? (() => new Date());
  const workspaceId = randomUUID();
  const campaign = {
    id: randomUUID(),
    workspace_id: workspaceId,
    status: 'active',
    timezone: 'UTC',
    schedule_settings: {},
    settings: {},
    daily_limit: 50,
  } as unknown as CampaignRow;
  const mailbox = {
    id: randomUUID(),
    workspace_id: workspaceId,
    email: 'sender@acme.example',
    domain: 'acme.example',
    configuration_set: 'acme-sender',
    status: 'active',
    daily_cap: 50,
  } as unknown as MailboxRow;
  const steps: CampaignStepRow[] = [1, 2].map(
    (n) =>
      ({
        step_number: n,
        subject: `Step ${n} for {{first_name}}`,
        body: 'Hi {{first_name}},\n\nShort note.',
        delay_days: 2,
        delay_hours: 0,
      }) as CampaignStepRow,
  );
  const emails = new Map<string, CampaignEmailRow>();
  const leads = new Map<string, LeadRow>();
  const enrolments = new Map<string, CampaignLeadRow>();
  const suppressed = new Set<string>();
  /** leads with a granted marketing consent */
  const consents = new Set<string>();
  const sent: SentRecord[] = [];
  const cancelled = new Map<string, string>();
  const pausedMailboxes: string[] = [];

  const row = (id: string) => {
    const r = emails.get(id);
    if (!r) throw Object.assign(new Error(`campaign_emails ${id} not found`), { name: 'RecordNotFoundError', permanent: true });
    return r;
  };
  /** a ledger transition from `from`; fenced by a claim token as the Postgres repositories do */
  const move = (id: string, from: readonly string[], patch: Partial<CampaignEmailRow>, claim?: number) => {
    const r = row(id);
    if (claim !== undefined && r.attempt !== claim) {
      throw Object.assign(new Error(`ledger ${id}: claim ${claim} lost to ${r.attempt}`), {
        name: 'ClaimLostError',
        permanent: true,
        attempt: claim,
        currentAttempt: r.attempt,
      });
    }
    const allowed = claim !== undefined && from.includes('sending') ? [...from, 'unknown', 'failed_unknown'] : from;
    if (!allowed.includes(r.status))
      throw Object.assign(new Error(`ledger ${id}: ${r.status} → ${patch.status}`), { name: 'LedgerStateError', permanent: true });
    Object.assign(r, patch);
  };

  const store: EmailStore = {
    async loadSend(ws, id) {
      if (ws !== workspaceId) throw Object.assign(new Error('foreign workspace'), { name: 'TenancyError', permanent: true });
      const email = { ...row(id) };
      const lead = leads.get(email.lead_id)!;
      const context: SendContext = {
        email,
        campaign: { ...campaign },
        step: steps.find((s) => s.step_number === email.step_number) ?? null,
        nextStep: steps.find((s) => s.step_number === email.step_number + 1) ?? null,
        lead,
        enrolment: { ...enrolments.get(lead.id)! },
        mailbox: { ...mailbox },
        sender: { senderEmail: undefined, senderName: 'Acme', replyToEmail: 'replies@acme.example', companyAddress: '1 Main St, Springfield' },
      };
      return context;
    },
    async hasMarketingConsent(_ws, leadId) {
      return consents.has(leadId);
    },
    async claimUnlessSuppressed(_ws, id, recipient) {
      const r = row(id);
      if (suppressed.has(recipient.trim().toLowerCase())) return { claimed: false, suppressed: true };
      if (r.status !== 'scheduled' && r.status !== 'retryable') return { claimed: false, status: r.status };
      Object.assign(r, { status: 'sending', claimed_at: now(), attempt: r.attempt + 1, last_error: null });
      return { claimed: true, email: { ...r } };
    },
    async unclaim(_ws, id, until, reason, claim) {
      move(id, ['sending'], { status: 'scheduled', scheduled_at: until, claimed_at: null, last_error: reason }, claim);
    },
    async reschedule(_ws, id, until, reason) {
      const r = row(id);
      if (r.status !== 'scheduled' && r.status !== 'retryable') return false;
      Object.assign(r, { scheduled_at: until, last_error: reason });
      return true;
    },
    async cancel(_ws, id, reason, opts) {
      // like cancelCampaignEmail: a row in another state (sent, cancelled...) is left as it is
      const r = row(id);
      if (['scheduled', 'retryable', 'sending'].includes(r.status)) {
        Object.assign(r, { status: 'cancelled' });
        cancelled.set(id, reason);
      }
      if (opts?.endEnrolmentId) {
        for (const e of enrolments.values()) if (e.id === opts.endEnrolmentId) e.status = 'failed';
      }
    },
    async expireLease(_ws, id, leaseMs) {
      const r = row(id);
      if (r.status !== 'sending' || !r.claimed_at || r.claimed_at.getTime() > now().getTime() - leaseMs) return false;
      r.status = 'unknown';
      return true;
    },
    async recordSent(_ws, context, record) {
      const current = row(context.email.id);
      // a repeat after a lost commit acknowledgement changes nothing (recordCampaignEmailSent)
      if (current.status === 'sent' && current.message_id === record.messageId) return;
      move(context.email.id, ['sending', 'unknown'], { status: 'sent', message_id: record.messageId, sent_at: record.sentAt }, record.claim);
      const e = enrolments.get(context.lead.id)!;
      Object.assign(e, {
        current_step: context.email.step_number,
        next_email_at: record.nextEmailAt,
        status: record.nextEmailAt ? 'in_progress' : 'completed',
      });
      sent.push(record);
    },
    async recordUnknown(_ws, id, error, claim) {
      const r = row(id);
      if (claim !== undefined && r.attempt !== claim) move(id, ['sending'], {}, claim); // throws ClaimLostError
      move(id, ['sending'], { status: 'unknown', last_error: error });
    },
    async recordFailed(_ws, id, failure) {
      move(id, ['sending'], { status: failure.retryable ? 'retryable' : 'failed', last_error: failure.error }, failure.claim);
      if (failure.endEnrolmentId) for (const e of enrolments.values()) if (e.id === failure.endEnrolmentId) e.status = 'failed';
    },
    async pauseMailbox(_ws, mailboxId) {
      pausedMailboxes.push(mailboxId);
      mailbox.status = 'paused';
    },
  };

  /** Adds a lead, its enrolment and a scheduled step-1 send; returns the ledger row id. */
  function addSend(email = `lead-${emails.size + 1}@gmail.example`): string {
    const lead = {
      id: randomUUID(),
      workspace_id: workspaceId,
      email,
      first_name: 'Grace',
      status: 'new',
      deleted_at: null,
      custom_fields: {},
    } as unknown as LeadRow;
    leads.set(lead.id, lead);
    enrolments.set(lead.id, { id: randomUUID(), workspace_id: workspaceId, lead_id: lead.id, status: 'pending', current_step: 0 } as CampaignLeadRow);
    const id = randomUUID();
    emails.set(id, {
      id,
      workspace_id: workspaceId,
      campaign_id: campaign.id,
      lead_id: lead.id,
      step_number: 1,
      mailbox_id: mailbox.id,
      status: 'scheduled',
      attempt: 0,
      claimed_at: null,
      scheduled_at: new Date(now().getTime() - 60_000),
    } as CampaignEmailRow);
    return id;
  }

  return Object.assign(store, {
    workspaceId,
    campaign,
    mailbox,
    emails,
    enrolments,
    leads,
    suppressed,
    consents,
    sent,
    cancelled,
    pausedMailboxes,
    addSend,
    status: (id: string) => row(id).status,
  });
}
