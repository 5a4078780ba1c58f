import { CalendarProviderError } from './errors.js';
import { type BusyInterval, mergeBusy } from './events.js';
import type { GoogleCalendarApi } from './google.js';
import type { GraphCalendarApi } from './graph.js';

export type { BusyInterval } from './events.js';

/**
 * The free/busy port: busy time of a workspace's connected calendars, for proposing meeting slots
 * (the AI worker's extract-meeting-intent) or checking one before an event is created. Intervals
 * are merged, sorted and clipped to [from, to). Same shape as the AI worker's CalendarFreeBusy.
 */
export interface CalendarFreeBusy {
  busy(workspaceId: string, from: Date, to: Date, signal?: AbortSignal): Promise<BusyInterval[]>;
}

/** A connected calendar as the adapter needs it (no token: that comes from `accessToken`). */
export interface CalendarAccountRef {
  readonly id: string;
  readonly workspaceId: string;
  readonly provider: 'google' | 'microsoft';
  /** the mailbox (Graph's schedule id) */
  readonly email: string;
  /** Google calendars to ask; empty: the primary */
  readonly calendarIds: readonly string[];
}

export interface ProviderFreeBusyOptions {
  /** the workspace's active, sync-enabled calendar accounts */
  readonly accounts: (workspaceId: string, signal?: AbortSignal) => Promise<readonly CalendarAccountRef[]>;
  /** a valid access token of the account (decrypted, refreshed ahead of expiry) */
  readonly accessToken: (account: CalendarAccountRef, signal?: AbortSignal) => Promise<string>;
  readonly google: GoogleCalendarApi;
  readonly graph: GraphCalendarApi;
}

/**
 * The real adapter: Google `freeBusy` and Graph `getSchedule` for every connected account of the
 * workspace, asked in parallel. One account failing fails the call (slots proposed without a
 * calendar could double-book); a workspace without calendars is free.
 */
export function createProviderFreeBusy(options: ProviderFreeBusyOptions): CalendarFreeBusy {
  return {
    async busy(workspaceId, from, to, signal) {
      const accounts = await options.accounts(workspaceId, signal);
      const lists = await Promise.all(
        accounts.map(async (account): Promise<BusyInterval[]> => {
          const token = await options.accessToken(account, signal);
          if (account.provider === 'google') {
            const ids = account.calendarIds.length ? account.calendarIds : ['primary'];
            const byId = await options.google.freeBusy(token, { calendarIds: ids, from, to, ...(signal ? { signal } : {}) });
            return [...byId.values()].flat();
          }
          const bySchedule = await options.graph.getSchedule(token, { schedules: [account.email], from, to, ...(signal ? { signal } : {}) });
          const busy = bySchedule.get(account.email.toLowerCase());
          if (!busy) throw new CalendarProviderError('microsoft', 200, 'getSchedule: schedule missing', false);
          return busy;
        }),
      );
      return mergeBusy(lists.flat(), from, to);
    },
  };
}

/** In-memory free/busy for tests and for workers without calendar access: busy intervals per workspace (or for all). */
export function createFakeFreeBusy(
  busy: BusyInterval[] | Record<string, BusyInterval[]> = [],
): CalendarFreeBusy & { readonly queries: Array<{ workspaceId: string; from: Date; to: Date }> } {
  const queries: Array<{ workspaceId: string; from: Date; to: Date }> = [];
  return {
    queries,
    async busy(workspaceId, from, to) {
      queries.push({ workspaceId, from, to });
      const list = Array.isArray(busy) ? busy : (busy[workspaceId] ?? []);
      return mergeBusy(list, from, to);
    },
  };
}
