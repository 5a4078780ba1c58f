/**
 * Calendar free/busy for proposing meeting slots. The integration worker will provide the real
 * adapter (Google `freeBusy`, Microsoft Graph `getSchedule`, providers.md §9); until then the
 * worker runs with the fake below, which knows only the busy intervals it is given.
 */
export interface BusyInterval {
  readonly start: Date;
  readonly end: Date;
}

export interface CalendarFreeBusy {
  busy(workspaceId: string, from: Date, to: Date, signal?: AbortSignal): Promise<BusyInterval[]>;
}

export function createFakeCalendar(
  busy: BusyInterval[] = [],
): CalendarFreeBusy & { readonly busyIntervals: BusyInterval[]; readonly queries: Array<{ workspaceId: string; from: Date; to: Date }> } {
  const queries: Array<{ workspaceId: string; from: Date; to: Date }> = [];
  return {
    busyIntervals: busy,
    queries,
    async busy(workspaceId, from, to) {
      queries.push({ workspaceId, from, to });
      return busy.filter((b) => b.end > from && b.start < to);
    },
  };
}
