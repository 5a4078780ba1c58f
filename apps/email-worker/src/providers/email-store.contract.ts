import { describe, expect, it } from 'vitest';
import type { EmailStore, SentRecord } from './email-store.js';

/*
 * Contract of the EmailStore port: the same tests run against the in-memory fake (unit project,
 * email-store.contract.test.ts) and the Postgres adapter (integration project,
 * test/email-store.contract.int.test.ts), so the fake the handler tests rely on behaves like the
 * ledger. A world owns one store and one workspace, and seeds the rows the fake keeps in memory
 * and Postgres keeps in tables.
 */

export interface EmailStoreWorld {
  readonly store: EmailStore;
  readonly workspaceId: string;
  /** a lead enrolled in the world's active 2-step campaign, with a scheduled step-1 send due a minute ago; returns the ledger id */
  addSend(recipient?: string): Promise<string>;
  /** suppresses an address in the workspace */
  suppress(email: string): Promise<void>;
  /** grants the lead marketing consent */
  grantConsent(leadId: string): Promise<void>;
  /** the ledger row's status */
  status(campaignEmailId: string): Promise<string>;
  /** the status of the enrolment */
  enrolmentStatus(enrolmentId: string): Promise<string>;
  /** moves the row's claim `ms` into the past (a worker that died mid-send) */
  ageClaim(campaignEmailId: string, ms: number): Promise<void>;
}

const errorName = async (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err as Error).name,
  );

export function runEmailStoreContract(name: string, makeWorld: () => Promise<EmailStoreWorld>): void {
  describe(`EmailStore contract: ${name}`, () => {
    const sent = (messageId: string, nextEmailAt: Date | null, mailboxId: string): SentRecord => ({
      messageId,
      sentAt: new Date(),
      nextEmailAt,
      mailboxId,
      fromEmail: 'sender@acme.example',
      subject: 'Hello',
      html: '<p>Hi</p>',
      text: 'Hi',
    });

    it('loadSend: the row with its campaign, lead, enrolment, steps and mailbox; a foreign workspace is refused, a missing id not found', async () => {
      const w = await makeWorld();
      const id = await w.addSend('ada@lead.example');
      const context = await w.store.loadSend(w.workspaceId, id);
      expect(context.email).toMatchObject({ id, status: 'scheduled', step_number: 1, attempt: 0 });
      expect(context.lead.email).toBe('ada@lead.example');
      expect(context.enrolment.lead_id).toBe(context.lead.id);
      expect(context.step?.step_number).toBe(1);
      expect(context.nextStep?.step_number).toBe(2);
      expect(context.mailbox?.status).toBe('active');
      expect(await errorName(w.store.loadSend('00000000-0000-4000-8000-00000000000a', id))).toBe('TenancyError');
      expect(await errorName(w.store.loadSend(w.workspaceId, '00000000-0000-4000-8000-00000000000b'))).toBe('RecordNotFoundError');
    });

    it('claimUnlessSuppressed: exactly one claim wins; the row is sending with attempt 1', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const recipient = (await w.store.loadSend(w.workspaceId, id)).lead.email;
      const results = await Promise.all([1, 2, 3].map(() => w.store.claimUnlessSuppressed(w.workspaceId, id, recipient)));
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({ claimed: true, email: { id, status: 'sending', attempt: 1 } });
      expect(results.filter((r) => !r.claimed)).toEqual([
        { claimed: false, status: 'sending' },
        { claimed: false, status: 'sending' },
      ]);
    });

    it('claimUnlessSuppressed: a suppressed recipient (any case, spaces) claims nothing', async () => {
      const w = await makeWorld();
      const id = await w.addSend('grace@lead.example');
      await w.suppress('grace@lead.example');
      expect(await w.store.claimUnlessSuppressed(w.workspaceId, id, ' Grace@Lead.example ')).toEqual({ claimed: false, suppressed: true });
      expect(await w.status(id)).toBe('scheduled');
    });

    it('unclaim gives a claim back (scheduled, claimable again); unclaiming a row that is not sending is a LedgerStateError', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const until = new Date(Date.now() - 1000);
      expect(await errorName(w.store.unclaim(w.workspaceId, id, until, 'cap'))).toBe('LedgerStateError');
      await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example');
      await w.store.unclaim(w.workspaceId, id, until, 'cap');
      expect(await w.status(id)).toBe('scheduled');
      expect(await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example')).toMatchObject({ claimed: true, email: { attempt: 2 } });
    });

    it('reschedule moves a claimable row only', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      expect(await w.store.reschedule(w.workspaceId, id, new Date(Date.now() + 60_000), 'rate')).toBe(true);
      expect((await w.store.loadSend(w.workspaceId, id)).email.status).toBe('scheduled');
      await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example');
      expect(await w.store.reschedule(w.workspaceId, id, new Date(), 'rate')).toBe(false);
      expect(await w.status(id)).toBe('sending');
    });

    it('cancel: claimable or sending rows are cancelled (enrolment ended on request); a row already sent stays sent', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const context = await w.store.loadSend(w.workspaceId, id);
      await w.store.cancel(w.workspaceId, id, 'suppressed', { endEnrolmentId: context.enrolment.id });
      expect(await w.status(id)).toBe('cancelled');
      expect(await w.enrolmentStatus(context.enrolment.id)).toBe('failed');

      const other = await w.addSend();
      await w.store.claimUnlessSuppressed(w.workspaceId, other, 'x@claim.example');
      const claimed = await w.store.loadSend(w.workspaceId, other);
      await w.store.recordSent(w.workspaceId, claimed, sent('msg-cancel', null, claimed.mailbox!.id));
      await w.store.cancel(w.workspaceId, other, 'too late');
      expect(await w.status(other)).toBe('sent');
    });

    it('expireLease: only a sending row whose claim is older than the lease becomes unknown', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      expect(await w.store.expireLease(w.workspaceId, id, 60_000)).toBe(false); // not sending
      await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example');
      expect(await w.store.expireLease(w.workspaceId, id, 60_000)).toBe(false); // lease running
      await w.ageClaim(id, 120_000);
      expect(await w.store.expireLease(w.workspaceId, id, 60_000)).toBe(true);
      expect(await w.status(id)).toBe('unknown');
      expect(await w.store.expireLease(w.workspaceId, id, 60_000)).toBe(false);
    });

    it('recordSent: sending → sent, the enrolment moves on (or completes); repeating it is harmless; an unclaimed row is a LedgerStateError', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const unclaimed = await w.store.loadSend(w.workspaceId, id);
      expect(await errorName(w.store.recordSent(w.workspaceId, unclaimed, sent('msg-1', null, unclaimed.mailbox!.id)))).toBe('LedgerStateError');
      await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example');
      const context = await w.store.loadSend(w.workspaceId, id);
      const record = sent('msg-1', new Date(Date.now() + 2 * 86_400_000), context.mailbox!.id);
      await w.store.recordSent(w.workspaceId, context, record);
      expect(await w.status(id)).toBe('sent');
      expect(await w.enrolmentStatus(context.enrolment.id)).toBe('in_progress');
      // a retry after a lost commit acknowledgement
      await w.store.recordSent(w.workspaceId, context, record);
      expect(await w.status(id)).toBe('sent');
      expect(await errorName(w.store.recordSent(w.workspaceId, context, { ...record, messageId: 'msg-other' }))).toBe('LedgerStateError');

      const last = await w.addSend();
      await w.store.claimUnlessSuppressed(w.workspaceId, last, 'x@claim.example');
      const lastContext = await w.store.loadSend(w.workspaceId, last);
      await w.store.recordSent(w.workspaceId, lastContext, sent('msg-2', null, lastContext.mailbox!.id));
      expect(await w.enrolmentStatus(lastContext.enrolment.id)).toBe('completed');
    });

    it('recordUnknown and recordFailed move only a sending row; a retryable failure may be claimed again, a definite one ends the enrolment', async () => {
      const w = await makeWorld();
      const unknown = await w.addSend();
      expect(await errorName(w.store.recordUnknown(w.workspaceId, unknown, 'timeout'))).toBe('LedgerStateError');
      await w.store.claimUnlessSuppressed(w.workspaceId, unknown, 'x@claim.example');
      await w.store.recordUnknown(w.workspaceId, unknown, 'timeout');
      expect(await w.status(unknown)).toBe('unknown');
      expect(await w.store.claimUnlessSuppressed(w.workspaceId, unknown, 'x@claim.example')).toEqual({ claimed: false, status: 'unknown' });

      const retry = await w.addSend();
      await w.store.claimUnlessSuppressed(w.workspaceId, retry, 'x@claim.example');
      await w.store.recordFailed(w.workspaceId, retry, { error: 'Throttling', retryable: true });
      expect(await w.status(retry)).toBe('retryable');
      expect(await w.store.claimUnlessSuppressed(w.workspaceId, retry, 'x@claim.example')).toMatchObject({ claimed: true, email: { attempt: 2 } });

      const fail = await w.addSend();
      const context = await w.store.loadSend(w.workspaceId, fail);
      await w.store.claimUnlessSuppressed(w.workspaceId, fail, 'x@claim.example');
      await w.store.recordFailed(w.workspaceId, fail, { error: 'MessageRejected', retryable: false, endEnrolmentId: context.enrolment.id });
      expect(await w.status(fail)).toBe('failed');
      expect(await w.enrolmentStatus(context.enrolment.id)).toBe('failed');
      expect(await errorName(w.store.recordFailed(w.workspaceId, fail, { error: 'again', retryable: true }))).toBe('LedgerStateError');
    });

    it('fencing: writes carrying a claim token apply only while that claim holds the row, also over a lease expiry', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const first = await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example');
      expect(first).toMatchObject({ claimed: true, email: { attempt: 1 } });
      // the claiming attempt stalls past its lease: another attempt marks the row unknown
      expect(await w.store.expireLease(w.workspaceId, id, -1000)).toBe(true);
      // back, the stalled attempt knows it sent nothing: it gives the claim back
      await w.store.unclaim(w.workspaceId, id, new Date(), 'lease expired before the request', 1);
      expect(await w.status(id)).toBe('scheduled');
      // claimed again (token 2): every write of token 1 is refused, nothing changes
      expect(await w.store.claimUnlessSuppressed(w.workspaceId, id, 'x@claim.example')).toMatchObject({ claimed: true, email: { attempt: 2 } });
      const context = await w.store.loadSend(w.workspaceId, id);
      const record = { ...sent('msg-stale', null, context.mailbox!.id), claim: 1 };
      expect(await errorName(w.store.recordSent(w.workspaceId, context, record))).toBe('ClaimLostError');
      expect(await errorName(w.store.recordUnknown(w.workspaceId, id, 'timeout', 1))).toBe('ClaimLostError');
      expect(await errorName(w.store.recordFailed(w.workspaceId, id, { error: 'x', retryable: true, claim: 1 }))).toBe('ClaimLostError');
      expect(await errorName(w.store.unclaim(w.workspaceId, id, new Date(), 'x', 1))).toBe('ClaimLostError');
      expect(await w.status(id)).toBe('sending');
      // the holder's own writes go through, also once the row went unknown meanwhile
      expect(await w.store.expireLease(w.workspaceId, id, -1000)).toBe(true);
      await w.store.recordSent(w.workspaceId, context, { ...record, messageId: 'msg-2', claim: 2 });
      expect(await w.status(id)).toBe('sent');
    });

    it('pauseMailbox: the send context shows the mailbox paused', async () => {
      const w = await makeWorld();
      const id = await w.addSend();
      const mailboxId = (await w.store.loadSend(w.workspaceId, id)).mailbox!.id;
      await w.store.pauseMailbox(w.workspaceId, mailboxId, 'bounce rate');
      expect((await w.store.loadSend(w.workspaceId, id)).mailbox).toMatchObject({ id: mailboxId, status: 'paused' });
    });

    it('hasMarketingConsent: false until granted, for that lead only', async () => {
      const w = await makeWorld();
      const a = (await w.store.loadSend(w.workspaceId, await w.addSend())).lead.id;
      const b = (await w.store.loadSend(w.workspaceId, await w.addSend())).lead.id;
      expect(await w.store.hasMarketingConsent(w.workspaceId, a)).toBe(false);
      await w.grantConsent(a);
      expect(await w.store.hasMarketingConsent(w.workspaceId, a)).toBe(true);
      expect(await w.store.hasMarketingConsent(w.workspaceId, b)).toBe(false);
    });
  });
}
