/**
 * Calendar free/busy for proposing meeting slots: the port of @coldcopy/calendar (Google `freeBusy`
 * and Microsoft Graph `getSchedule` over the workspace's connected calendar accounts, whose sealed
 * tokens the integration worker keeps; providers.md §9), and its in-memory fake for tests.
 */
export { type BusyInterval, type CalendarFreeBusy, createFakeFreeBusy } from '@coldcopy/calendar';
