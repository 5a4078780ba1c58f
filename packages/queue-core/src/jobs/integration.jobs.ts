import { z } from 'zod';
import { sha256Hex, sortedUnique, timeSlot, timeSlotOf } from './fields.js';
import { defineJob } from '../definitions/define-job.js';
import { withFanOutForm } from './fan-out.js';

/**
 * Integration queue: CRM, LinkedIn identity and calendar sync (domain.md §5, providers.md §7–§11).
 * Connections are loaded by the worker; job data never carries tokens.
 *
 * Every key carries a time slot: a Bull job id stays taken while the finished job is kept (one
 * day), so a key without one would block the next run of a recurring sync.
 */

/**
 * Syncs the workspace's HubSpot portal: drains the outbox or pulls changes. Fan-out form
 * `{ fanOut: true, mode }` (the `hubspot-outbox-drain` and `hubspot-incremental` schedules): one
 * job per active HubSpot connection that is due (`outbox`: every one; a pull: per the connection's
 * `sync_frequency_minutes`), keyed by the run's slot.
 */
export const syncHubspot = withFanOutForm(
  defineJob({
    name: 'sync-hubspot',
    queue: 'integration',
    description: 'Drain the HubSpot outbox or pull contact/company/deal changes through the cursor',
    // global here so workspaceId stays optional (the fan-out form); withFanOutForm re-scopes it
    scope: 'global',
    payload: {
      workspaceId: z.uuid().optional(),
      /** `outbox`: push local changes; `full`/`incremental`: pull; `webhook`: pull after a HubSpot webhook */
      mode: z.enum(['outbox', 'full', 'incremental', 'webhook']),
      /** default: every mapped object type */
      objectTypes: z
        .array(z.enum(['contacts', 'companies', 'deals']))
        .min(1)
        .max(3)
        .optional(),
      /** pull changes modified since then instead of from the stored cursor */
      since: z.iso.datetime({ offset: true }).optional(),
      /** the scheduler tick (or webhook batch window): part of the key; a fan-out derives it from its run time */
      windowSlot: timeSlot.optional(),
      /** fan-out form: enqueue `mode` for every due HubSpot connection (no workspaceId) */
      fanOut: z.literal(true).optional(),
      /**
       * `webhook` only: HubSpot ids of contacts HubSpot erased (`contact.privacyDeletion` events);
       * their leads are erased here. Ids, never personal data.
       */
      privacyDeletions: z
        .array(z.string().regex(/^\d{1,20}$/))
        .min(1)
        .max(100)
        .optional(),
    },
    // domain.md: `hubspot:{ws}:{mode}`, plus the slot (see the note at the top of this file); a
    // privacy deletion by its ids instead (two webhook batches in one minute are two erasures).
    idempotencyKey: (p) =>
      p.fanOut
        ? ['fan-out', p.mode, p.windowSlot ?? 'unslotted']
        : p.privacyDeletions
          ? [p.workspaceId ?? '', 'privacy', sha256Hex(sortedUnique(p.privacyDeletions).join(',')).slice(0, 32)]
          : [p.workspaceId ?? '', p.mode, p.windowSlot ?? ''],
  }),
  {
    itemFields: ['workspaceId'],
    alsoRequired: ['windowSlot'],
    covers: 'a fan-out covers the HubSpot connections of every workspace',
    description: 'Per workspace: workspaceId, mode and windowSlot. Fan-out (the schedules): fanOut: true and mode, without workspaceId.',
  },
);

/**
 * Syncs the workspace's Salesforce org. Fan-out form `{ fanOut: true, syncType }` (the
 * `salesforce-outbox` and `salesforce-incremental` schedules): one job per due active connection.
 */
export const syncSalesforce = withFanOutForm(
  defineJob({
    name: 'sync-salesforce',
    queue: 'integration',
    description: 'Push the Salesforce outbox or pull changes by SystemModstamp',
    scope: 'global',
    payload: {
      workspaceId: z.uuid().optional(),
      /** the workspace's Salesforce connection row */
      integrationId: z.uuid().optional(),
      syncType: z.enum(['outbox', 'full', 'incremental']),
      /** the scheduler tick (every 15 min, honouring `sync_frequency_minutes`): part of the key */
      windowSlot: timeSlot.optional(),
      /** fan-out form: enqueue `syncType` for every due Salesforce connection */
      fanOut: z.literal(true).optional(),
    },
    // domain.md: `sf:{ws}:{window}`, plus the sync type, so a full resync requested in the same
    // window as the scheduled incremental run is not dropped.
    idempotencyKey: (p) => (p.fanOut ? ['fan-out', p.syncType, p.windowSlot ?? 'unslotted'] : [p.workspaceId ?? '', p.syncType, p.windowSlot ?? '']),
  }),
  {
    itemFields: ['integrationId', 'workspaceId'],
    alsoRequired: ['windowSlot'],
    covers: 'a fan-out covers the Salesforce connections of every workspace',
    description:
      'Per connection: workspaceId, integrationId, syncType and windowSlot. Fan-out (the schedules): fanOut: true and syncType, without the per-connection fields.',
  },
);

/**
 * Checks the LinkedIn identity and token expiry; partner-gated APIs are never called. Fan-out form
 * `{ fanOut: true, jobType: 'identity' }` (the daily `linkedin-identity-check` schedule): one job
 * per workspace with an active LinkedIn sign-in.
 */
export const syncLinkedin = withFanOutForm(
  defineJob({
    name: 'sync-linkedin',
    queue: 'integration',
    description: 'Refresh the LinkedIn OIDC identity and token expiry (no partner-only APIs)',
    scope: 'global',
    payload: {
      workspaceId: z.uuid().optional(),
      jobType: z.enum(['identity', 'analytics']),
      /** UTC day of the daily check: part of the key; a fan-out derives it from its run time */
      date: z.iso.date().optional(),
      /** fan-out form: enqueue the check for every workspace with an active LinkedIn sign-in */
      fanOut: z.literal(true).optional(),
    },
    idempotencyKey: (p) => (p.fanOut ? ['fan-out', p.jobType, p.date ?? 'undated'] : [p.workspaceId ?? '', p.jobType, p.date ?? '']),
  }),
  {
    itemFields: ['workspaceId'],
    alsoRequired: ['date'],
    covers: 'a fan-out covers the LinkedIn sign-ins of every workspace',
    description: 'Per workspace: workspaceId, jobType and date. Fan-out (the schedule): fanOut: true and jobType, without workspaceId.',
  },
);

/** Minutes between calendar sync fan-outs: the `calendar-sync` schedule runs every 15 minutes (domain.md §6). */
export const CALENDAR_SYNC_MINUTES = 15;

/** The calendar-sync slot that contains `at`: UTC, floored to 15 minutes, e.g. `20250709T1430Z`. */
export function calendarSyncSlot(at: Date | number): string {
  return timeSlotOf(at, CALENDAR_SYNC_MINUTES);
}

const calendarSyncDefinition = defineJob({
  name: 'sync-calendar',
  queue: 'integration',
  description: 'Sync one calendar account through its sync token or delta link; full resync on 410',
  // global so that defineJob leaves workspaceId optional (the fan-out form has none); re-scoped to
  // `workspace` by withFanOutForm below
  scope: 'global',
  payload: {
    /** per-account form: the account's workspace */
    workspaceId: z.uuid().optional(),
    /** per-account form: the `calendar_accounts` row */
    calendarAccountId: z.uuid().optional(),
    /** per-account form; `webhook`: an incremental sync triggered by a push notification */
    syncType: z.enum(['full', 'incremental', 'webhook']).optional(),
    /** the scheduler tick or notification window: part of the key (a scheduled fan-out derives it from its run time) */
    slot: timeSlot.optional(),
    /** fan-out form: one incremental sync per calendar account due in this tick, in every workspace */
    fanOut: z.literal(true).optional(),
  },
  // calendar:{accountId}:{syncType}:{slot} (domain.md §5); a fan-out by its slot
  idempotencyKey: (p) => (p.fanOut ? ['fan-out', p.slot ?? 'unslotted'] : [p.calendarAccountId ?? '', p.syncType ?? '', p.slot ?? '']),
});

/**
 * Syncs one connected Google or Microsoft calendar. Two forms:
 * - **per account** `{ workspaceId, calendarAccountId, syncType, slot }`;
 * - **fan-out** `{ fanOut: true, slot? }`: what the `calendar-sync` schedule runs every 15 minutes:
 *   one incremental sync per active, sync-enabled account whose `sync_frequency_minutes` has
 *   passed since its last sync (domain.md §6), with deterministic ids.
 */
export const syncCalendar: typeof calendarSyncDefinition = withFanOutForm(calendarSyncDefinition, {
  itemFields: ['calendarAccountId', 'workspaceId', 'syncType'],
  alsoRequired: ['slot'],
  covers: 'a fan-out syncs the due calendar accounts of every workspace',
  description: 'Per account: workspaceId, calendarAccountId, syncType and slot. Fan-out (the schedule): fanOut: true, without the per-account fields.',
});

export const integrationJobs = [syncHubspot, syncSalesforce, syncLinkedin, syncCalendar] as const;
