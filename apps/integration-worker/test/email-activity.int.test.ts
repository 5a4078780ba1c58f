import { randomUUID } from 'node:crypto';
import { countPendingOutbox, enqueueOutbox, insertEmailThread, insertInboundEmailMessage, markCampaignEmailSent, withTransaction } from '@coldcopy/db';
import { syncHubspot } from '@coldcopy/queue-core';
import { describe, expect, it } from 'vitest';
import { type HubspotApi, HubspotRequestError } from '../src/providers/hubspot-client.js';
import { drainHubspotEmailActivity } from '../src/sync/hubspot-email-activity.js';
import { useIntegrationHarness } from './harness.js';

const h = useIntegrationHarness();
let tick = 0;
const slot = () => `20261206T09${String(tick++ % 60).padStart(2, '0')}Z`;

/** A campaign whose ledger holds one `sending` row per lead; `send` marks them sent through the product's own call. */
async function campaignOf(workspaceId: string, leadIds: readonly string[]) {
  const campaignId = randomUUID();
  await h.pool.query(`INSERT INTO campaigns (id, workspace_id, name, status) VALUES ($1, $2, 'Outreach', 'active')`, [campaignId, workspaceId]);
  const ids: string[] = leadIds.map(() => randomUUID());
  await h.pool.query(
    `INSERT INTO campaign_emails (id, workspace_id, campaign_id, lead_id, step_number, status)
     SELECT id, $1, $2, lead, 1, 'sending' FROM unnest($3::uuid[], $4::uuid[]) AS t(id, lead)`,
    [workspaceId, campaignId, ids, leadIds],
  );
  const send = async (emailIds: readonly string[]) => {
    for (const id of emailIds)
      await markCampaignEmailSent(h.pool, workspaceId, id, {
        messageId: `<${id}@ses.example>`,
        fromEmail: 'rep@coldcopy.example',
        subject: 'Quick question',
        contentText: 'Hi, would a call next week make sense?',
      });
  };
  return { campaignId, emailIds: ids, send };
}

/** A reply from the lead to one of our sends, stored as process-webhook stores it (its thread, then the message). */
async function replyFrom(workspaceId: string, lead: { id: string; email: string }, campaignId: string, campaignEmailId: string) {
  return withTransaction(h.pool, async (tx) => {
    const threadId = await insertEmailThread(tx, workspaceId, {
      leadId: lead.id,
      campaignId,
      mailboxId: null,
      subject: 'Re: Quick question',
      status: 'open',
      lastMessageAt: new Date(),
    });
    const id = await insertInboundEmailMessage(tx, workspaceId, {
      threadId,
      messageId: `<reply-${randomUUID()}@acme.com>`,
      inReplyTo: `<${campaignEmailId}@ses.example>`,
      fromEmail: lead.email,
      toEmails: ['rep@coldcopy.example'],
      subject: 'Re: Quick question',
      bodyText: 'Yes, Tuesday works.',
      bodyHtml: null,
      headers: {},
      metadata: { email_type: 'reply', campaign_email_id: campaignEmailId },
      sentAt: null,
      receivedAt: new Date(),
    });
    return id!;
  });
}

const activityRows = async (workspaceId: string) =>
  (await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM integration_outbox WHERE workspace_id = $1 AND object_type = 'emails'`, [workspaceId]))
    .rows[0]!.n;

const loggedFor = (contactId: string) => [...h.hubspot.emails.values()].filter((e) => e.contacts.includes(contactId));

describe('HubSpot email activity', () => {
  it('logs every sent email and reply of a mapped lead once, 100 per batch call, associated with its contact; re-runs and re-queued rows call nothing', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 250 });
    const w = await h.worker(h.deps(), 1);
    const outbox = () => h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    expect(await outbox()).toMatchObject({ state: 'completed', value: { succeeded: 250 } });

    const { campaignId, emailIds, send } = await campaignOf(
      workspaceId,
      leads.map((l) => l.id),
    );
    expect(await activityRows(workspaceId)).toBe(0); // nothing before a send is recorded
    await send(emailIds);
    const replyIds = [await replyFrom(workspaceId, leads[0]!, campaignId, emailIds[0]!), await replyFrom(workspaceId, leads[7]!, campaignId, emailIds[7]!)];
    expect(await activityRows(workspaceId)).toBe(252); // one row per send and per reply, in their transactions

    h.hubspot.requests.length = 0;
    const drain = await outbox();
    expect(drain).toMatchObject({ state: 'completed', value: { succeeded: 252, failed: 0 } });
    const creates = h.hubspot.log('emails-create');
    expect(creates.map((r) => r.status)).toEqual([201, 201, 201]); // 100 + 100 + 52
    expect(h.hubspot.log('emails-search')).toHaveLength(0); // nothing was in doubt

    const contact0 = h.hubspot.byEmail(leads[0]!.email)!.id;
    const logged0 = loggedFor(contact0);
    expect(logged0.map((e) => e.properties.hs_email_direction).sort()).toEqual(['EMAIL', 'INCOMING_EMAIL']);
    const sent0 = logged0.find((e) => e.properties.hs_email_direction === 'EMAIL')!;
    expect(sent0.properties).toMatchObject({
      coldcopy_email_id: emailIds[0],
      hs_email_status: 'SENT',
      hs_email_subject: 'Quick question',
      hs_email_text: 'Hi, would a call next week make sense?',
    });
    expect(JSON.parse(sent0.properties.hs_email_headers!)).toMatchObject({ from: { email: 'rep@coldcopy.example' }, to: [{ email: leads[0]!.email }] });
    expect(Number.isNaN(Date.parse(sent0.properties.hs_timestamp!))).toBe(false);
    const reply0 = logged0.find((e) => e.properties.hs_email_direction === 'INCOMING_EMAIL')!;
    expect(reply0.properties).toMatchObject({ coldcopy_email_id: replyIds[0], hs_email_text: 'Yes, Tuesday works.' });
    // every email is logged exactly once, on its lead's contact
    const byKey = new Map<string, number>();
    for (const e of h.hubspot.emails.values()) byKey.set(e.properties.coldcopy_email_id!, (byKey.get(e.properties.coldcopy_email_id!) ?? 0) + 1);
    for (const id of [...emailIds, ...replyIds]) expect(byKey.get(id)).toBe(1);
    expect(loggedFor(h.hubspot.byEmail(leads[200]!.email)!.id).map((e) => e.properties.coldcopy_email_id)).toEqual([emailIds[200]]);
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0);

    // a re-run, and the same rows queued again (a producer retried): nothing is logged twice
    h.hubspot.requests.length = 0;
    await enqueueOutbox(h.pool, workspaceId, { provider: 'hubspot', objectType: 'emails', operation: 'upsert', localIds: emailIds.slice(0, 10) });
    expect(await outbox()).toMatchObject({ state: 'completed', value: { processed: 10, succeeded: 0, unchanged: 10 } });
    expect(h.hubspot.log('emails-create')).toHaveLength(0);
  }, 120_000);

  it('a 207 keeps the refused email on its row (retried alone), a 429 logs nothing twice; emails to leads not in HubSpot cost no call', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 5 });
    const w = await h.worker(h.deps(), 1);
    const outbox = () => h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    await outbox();
    // a lead that was never pushed (no outbox row): not in HubSpot
    const stranger = { id: randomUUID(), email: `stranger.${workspaceId.slice(0, 6)}@acme.com` };
    await h.pool.query(`INSERT INTO leads (id, workspace_id, email) VALUES ($1, $2, $3)`, [stranger.id, workspaceId, stranger.email]);
    const { emailIds, send } = await campaignOf(workspaceId, [...leads.map((l) => l.id), stranger.id]);
    await send(emailIds);

    h.hubspot.rejectIds.set(emailIds[2]!, 1);
    h.hubspot.fault({
      endpoint: 'emails-create',
      status: 429,
      body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'TEN_SECONDLY_ROLLING', message: 'limit' },
    });
    h.hubspot.requests.length = 0;
    const first = await outbox();
    expect(first).toMatchObject({ state: 'completed', value: { succeeded: 4, failed: 1, unchanged: 1 } });
    expect(first.attempts).toBe(1); // the 429 cost one attempt
    expect(h.hubspot.log('emails-create').map((r) => r.status)).toEqual([429, 207]);
    expect(h.hubspot.log('emails-search')).toHaveLength(0); // a 429 wrote nothing: its claims came back clean, not in doubt
    expect(h.hubspot.emails.size).toBeGreaterThanOrEqual(4);
    const mine = () => [...h.hubspot.emails.values()].filter((e) => emailIds.includes(e.properties.coldcopy_email_id!));
    expect(mine()).toHaveLength(4);

    await new Promise((r) => setTimeout(r, 300)); // OUTBOX_RETRY_MS
    h.hubspot.requests.length = 0;
    expect(await outbox()).toMatchObject({ state: 'completed', value: { succeeded: 1, failed: 0, retried: 1 } });
    expect(h.hubspot.log('emails-create')).toHaveLength(1);
    expect(
      mine()
        .map((e) => e.properties.coldcopy_email_id)
        .sort(),
    ).toEqual(emailIds.slice(0, 5).sort());
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0);
  }, 60_000);

  it('an email whose lead is on its way to HubSpot waits for its contact instead of being dropped', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 2 });
    h.hubspot.rejectIds.set(leads[1]!.email, 1); // its contact push fails once (207)
    const w = await h.worker(h.deps(), 1);
    const outbox = () => h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    const { emailIds, send } = await campaignOf(
      workspaceId,
      leads.map((l) => l.id),
    );
    await send(emailIds);
    // contacts: 1 pushed, 1 refused; emails: the mapped lead's logged, the other's waits
    expect(await outbox()).toMatchObject({ state: 'completed', value: { succeeded: 2, failed: 2 } });
    expect(loggedFor(h.hubspot.byEmail(leads[0]!.email)!.id)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await outbox()).toMatchObject({ state: 'completed', value: { succeeded: 2, failed: 0 } });
    expect(loggedFor(h.hubspot.byEmail(leads[1]!.email)!.id).map((e) => e.properties.coldcopy_email_id)).toEqual([emailIds[1]]);
  }, 60_000);

  it('a crash between HubSpot logging the batch and our commit: the re-run finds the emails in HubSpot by coldcopy_email_id and logs none twice', async () => {
    const { workspaceId, leads } = await h.seed({ leads: 30 });
    const deps = h.deps();
    const w = await h.worker(deps, 1);
    await h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    const { emailIds, send } = await campaignOf(
      workspaceId,
      leads.map((l) => l.id),
    );
    await send(emailIds);
    const { connection, accessToken } = await deps.tokens.accessToken(workspaceId, 'hubspot');
    const account = { portalId: connection.portal_id!, accessToken, timeZone: 'UTC' };

    // HubSpot logs the batch, then the answer never arrives (the connection drops: the worker cannot know)
    const lost: HubspotApi = {
      ...deps.hubspot,
      createEmails: async (...args) => {
        await deps.hubspot.createEmails(...args);
        throw new Error('socket hang up');
      },
    };
    h.hubspot.requests.length = 0;
    await expect(drainHubspotEmailActivity({ ...deps, hubspot: lost }, workspaceId, account, 'drain-1')).rejects.toThrow('socket hang up');
    expect(h.hubspot.log('emails-create').map((r) => r.status)).toEqual([201]);
    const mine = () => [...h.hubspot.emails.values()].filter((e) => emailIds.includes(e.properties.coldcopy_email_id!));
    expect(mine()).toHaveLength(30);
    // its claims were kept: another drain leaves them alone while they run …
    expect(await drainHubspotEmailActivity(deps, workspaceId, account, 'drain-2')).toMatchObject({ processed: 0 });
    // … and the retried drain (same owner) takes them back in doubt: one search, no create
    h.hubspot.requests.length = 0;
    expect(await drainHubspotEmailActivity(deps, workspaceId, account, 'drain-1')).toMatchObject({ processed: 30, succeeded: 30, failed: 0 });
    expect(h.hubspot.log('emails-search').map((r) => r.status)).toEqual([200]);
    expect(h.hubspot.log('emails-create')).toHaveLength(0);
    expect(mine()).toHaveLength(30);
    expect(await countPendingOutbox(h.pool, workspaceId, 'hubspot')).toBe(0);
  }, 60_000);

  it('a fresh portal: the first drain creates coldcopy_email_id once, then logs; later runs and another connection to the portal do not create it again; deleted in the portal, it is created again', async () => {
    const portal = `portal-fresh-${randomUUID().slice(0, 8)}`;
    const first = await h.seed({ leads: 3, portal });
    const deps = h.deps();
    const w = await h.worker(deps, 1);
    const outbox = (workspaceId: string) => h.run(w, syncHubspot, { workspaceId, requestedBy: 'test', mode: 'outbox', windowSlot: slot() });
    const propertyCalls = () => [...h.hubspot.log('email-property-get'), ...h.hubspot.log('email-property-create')].map((r) => `${r.method} ${r.status}`);
    const ready = async (workspaceId: string) =>
      (
        await h.pool.query<{ at: Date | null }>(
          `SELECT email_property_ready_at AS at FROM integration_connections WHERE workspace_id = $1 AND provider = 'hubspot'`,
          [workspaceId],
        )
      ).rows[0]!.at;
    h.hubspot.requests.length = 0;
    expect(await outbox(first.workspaceId)).toMatchObject({ state: 'completed', value: { succeeded: 3 } });
    expect(propertyCalls()).toEqual([]); // no email to log yet: nothing checked
    expect(await ready(first.workspaceId)).toBeNull();

    // the portal refuses an email naming the property it does not have, as HubSpot does
    const { connection, accessToken } = await deps.tokens.accessToken(first.workspaceId, 'hubspot');
    const account = { portalId: connection.portal_id!, accessToken, timeZone: 'UTC' };
    const contact0 = h.hubspot.byEmail(first.leads[0]!.email)!.id;
    const refused = deps.hubspot.createEmails(account, [
      { coldcopyId: randomUUID(), contactId: contact0, properties: { hs_timestamp: new Date().toISOString() } },
    ]);
    await expect(refused).rejects.toBeInstanceOf(HubspotRequestError);
    await expect(refused).rejects.toThrow(/400 VALIDATION_ERROR: .*PROPERTY_DOESNT_EXIST/);

    const sends = async (workspaceId: string, leadIds: readonly string[]) => {
      const { emailIds, send } = await campaignOf(workspaceId, leadIds);
      await send(emailIds);
      return emailIds;
    };
    const loggedIds = () => [...h.hubspot.emails.values()].map((e) => e.properties.coldcopy_email_id!);
    const batch1 = await sends(
      first.workspaceId,
      first.leads.map((l) => l.id),
    );
    h.hubspot.requests.length = 0;
    expect(await outbox(first.workspaceId)).toMatchObject({ state: 'completed', value: { succeeded: 3, failed: 0 } });
    expect(propertyCalls()).toEqual(['GET 404', 'POST 201']);
    expect(h.hubspot.emailProperties.get(portal)?.get('coldcopy_email_id')).toMatchObject({
      type: 'string',
      fieldType: 'text',
      groupName: 'emailinformation',
      hasUniqueValue: false,
    });
    expect(h.hubspot.log('emails-create').map((r) => r.status)).toEqual([201]);
    expect(
      loggedIds()
        .filter((id) => batch1.includes(id))
        .sort(),
    ).toEqual([...batch1].sort());
    expect(await ready(first.workspaceId)).not.toBeNull();

    // the next run of the connection: no check at all
    const batch2 = await sends(first.workspaceId, [first.leads[1]!.id]);
    h.hubspot.requests.length = 0;
    expect(await outbox(first.workspaceId)).toMatchObject({ state: 'completed', value: { succeeded: 1 } });
    expect(propertyCalls()).toEqual([]);
    expect(loggedIds()).toContain(batch2[0]);

    // another connection to the same portal: one check, which finds it; nothing created twice
    const second = await h.seed({ leads: 2, portal });
    await outbox(second.workspaceId); // its contacts
    const batch3 = await sends(
      second.workspaceId,
      second.leads.map((l) => l.id),
    );
    h.hubspot.requests.length = 0;
    expect(await outbox(second.workspaceId)).toMatchObject({ state: 'completed', value: { succeeded: 2, failed: 0 } });
    expect(propertyCalls()).toEqual(['GET 200']);
    expect(h.hubspot.emailProperties.get(portal)?.size).toBe(1);
    expect(loggedIds().filter((id) => batch3.includes(id))).toHaveLength(2);

    // a user deletes the property in the portal: the refused create clears the mark, the property is created again, the batch logged once
    h.hubspot.emailProperties.get(portal)!.delete('coldcopy_email_id');
    const batch4 = await sends(first.workspaceId, [first.leads[2]!.id]);
    h.hubspot.requests.length = 0;
    expect(await outbox(first.workspaceId)).toMatchObject({ state: 'completed', value: { succeeded: 1, failed: 0 } });
    expect(h.hubspot.log('emails-create').map((r) => r.status)).toEqual([400, 201]);
    expect(propertyCalls()).toEqual(['GET 404', 'POST 201']);
    expect(loggedIds().filter((id) => id === batch4[0])).toHaveLength(1);
    expect(await ready(first.workspaceId)).not.toBeNull();
    expect(await countPendingOutbox(h.pool, first.workspaceId, 'hubspot')).toBe(0);
  }, 60_000);
});
