import { describe, expect, it } from 'vitest';
import { type InboundInbox, type ReplyMatch, resolveInboundRoutes, type WorkspaceEvidence } from './inbound-routing.js';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';
const C = '00000000-0000-4000-8000-00000000000c';
const send = (ws: string, via: ReplyMatch['via'] = 'message-id'): ReplyMatch => ({
  campaignEmailId: `send-${ws.slice(-1)}`,
  campaignId: `campaign-${ws.slice(-1)}`,
  leadId: `lead-${ws.slice(-1)}`,
  mailboxId: `mailbox-${ws.slice(-1)}`,
  via,
});
const none: WorkspaceEvidence = { threaded: null, bySender: null, leadId: null };
const evidence = (entries: Record<string, Partial<WorkspaceEvidence>>) => new Map(Object.entries(entries).map(([ws, e]) => [ws, { ...none, ...e }] as const));

describe('resolveInboundRoutes', () => {
  it('routes a mailbox address to its workspace, with the send the message references', () => {
    const inboxes: InboundInbox[] = [{ workspaceId: A, address: 'sales@a.example', mailboxId: 'mailbox-a' }];
    const r = resolveInboundRoutes(['sales@a.example'], inboxes, evidence({ [A]: { threaded: { threadId: null, reply: send(A), leadId: 'lead-a' } } }));
    expect(r).toEqual({
      routes: [{ workspaceId: A, addresses: ['sales@a.example'], mailboxId: 'mailbox-a', threadId: null, reply: send(A), leadId: 'lead-a' }],
      unknown: [],
      ambiguous: [],
    });
  });

  it('falls back to the latest send to the sender, and stores a message that answers nothing', () => {
    const inboxes: InboundInbox[] = [{ workspaceId: A, address: 'sales@a.example', mailboxId: 'mailbox-a' }];
    expect(resolveInboundRoutes(['sales@a.example'], inboxes, evidence({ [A]: { bySender: send(A, 'sender'), leadId: 'lead-a' } })).routes[0]).toMatchObject({
      reply: { via: 'sender' },
      leadId: 'lead-a',
    });
    expect(resolveInboundRoutes(['sales@a.example'], inboxes, evidence({ [A]: {} })).routes[0]).toMatchObject({ reply: null, leadId: null });
  });

  it('an address no workspace owns goes nowhere, whatever the message references', () => {
    const r = resolveInboundRoutes(['someone@else.example'], [], evidence({ [A]: { threaded: { threadId: null, reply: send(A), leadId: 'lead-a' } } }));
    expect(r).toEqual({ routes: [], unknown: ['someone@else.example'], ambiguous: [] });
  });

  it('an address two workspaces share goes to the one the message threads to, else the one that sent to the sender', () => {
    const shared: InboundInbox[] = [
      { workspaceId: A, address: 'replies@shared.example', mailboxId: null },
      { workspaceId: B, address: 'replies@shared.example', mailboxId: null },
    ];
    const threaded = resolveInboundRoutes(
      ['replies@shared.example'],
      shared,
      evidence({ [A]: { bySender: send(A, 'sender') }, [B]: { threaded: { threadId: 't', reply: send(B), leadId: 'lead-b' } } }),
    );
    expect(threaded.routes.map((r) => r.workspaceId)).toEqual([B]);
    expect(threaded.routes[0]).toMatchObject({ mailboxId: 'mailbox-b', threadId: 't' });
    const bySender = resolveInboundRoutes(['replies@shared.example'], shared, evidence({ [A]: { bySender: send(A, 'sender') }, [B]: {} }));
    expect(bySender.routes.map((r) => r.workspaceId)).toEqual([A]);
  });

  it('never guesses: a shared address that nothing (or everything) tells apart is ambiguous', () => {
    const shared: InboundInbox[] = [
      { workspaceId: A, address: 'replies@shared.example', mailboxId: null },
      { workspaceId: B, address: 'replies@shared.example', mailboxId: null },
    ];
    expect(resolveInboundRoutes(['replies@shared.example'], shared, evidence({ [A]: { leadId: 'lead-a' }, [B]: {} }))).toEqual({
      routes: [],
      unknown: [],
      ambiguous: ['replies@shared.example'],
    });
    const both = evidence({ [A]: { bySender: send(A, 'sender') }, [B]: { bySender: send(B, 'sender') } });
    expect(resolveInboundRoutes(['replies@shared.example'], shared, both).ambiguous).toEqual(['replies@shared.example']);
  });

  it('one message to addresses of two workspaces is stored in each; evidence of a third workspace adds nothing', () => {
    const inboxes: InboundInbox[] = [
      { workspaceId: A, address: 'sales@a.example', mailboxId: 'mailbox-a' },
      { workspaceId: B, address: 'sales@b.example', mailboxId: 'mailbox-b' },
    ];
    const r = resolveInboundRoutes(
      ['sales@a.example', 'sales@b.example'],
      inboxes,
      evidence({ [A]: {}, [B]: { bySender: send(B, 'sender') }, [C]: { threaded: { threadId: null, reply: send(C), leadId: 'lead-c' } } }),
    );
    expect(r.routes.map((x) => [x.workspaceId, x.reply?.campaignEmailId ?? null])).toEqual([
      [A, null],
      [B, 'send-b'],
    ]);
  });
});
