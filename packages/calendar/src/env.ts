import { z } from 'zod';

/**
 * The calendar variables, spread into the env schema of each app that uses createCalendarAccess: the
 * Google and Microsoft OAuth apps, the API base URLs (the emulators in development and tests) and
 * the sync window.
 */
const int = (defaultValue: number, min = 1) => z.coerce.number().int().min(min).default(defaultValue);

export const calendarEnv = {
  GOOGLE_CALENDAR_ROOT_URL: z
    .url()
    .default('https://www.googleapis.com/')
    .meta({ description: 'Google Calendar API root URL (`rootUrl` of @googleapis/calendar; the emulator in development)' }),
  GOOGLE_TOKEN_URL: z.url().default('https://oauth2.googleapis.com/token').meta({ description: 'Google OAuth token endpoint' }),
  GOOGLE_CLIENT_ID: z.string().min(1).optional().meta({ description: 'Google OAuth client id; unset: Google calendar jobs fail permanently, naming it' }),
  GOOGLE_CLIENT_SECRET: z.string().min(1).optional().meta({ description: 'Google OAuth client secret', secret: true }),
  MICROSOFT_GRAPH_URL: z.url().default('https://graph.microsoft.com').meta({ description: 'Microsoft Graph base URL (the emulator in development)' }),
  MICROSOFT_TOKEN_URL: z
    .url()
    .default('https://login.microsoftonline.com/common/oauth2/v2.0/token')
    .meta({ description: 'Microsoft identity platform token endpoint (v2.0)' }),
  MICROSOFT_CLIENT_ID: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'Microsoft Entra application (client) id; unset: Microsoft calendar jobs fail permanently, naming it' }),
  MICROSOFT_CLIENT_SECRET: z.string().min(1).optional().meta({ description: 'Microsoft Entra client secret', secret: true }),
  CALENDAR_PAGE_SIZE: int(250).meta({ description: 'events per page of a calendar sync round (Google maxResults, Graph odata.maxpagesize)' }),
  CALENDAR_SYNC_PAST_DAYS: int(30, 0).meta({ description: 'Graph calendarView window: days back from the first sync' }),
  CALENDAR_SYNC_FUTURE_DAYS: int(180).meta({ description: 'Graph calendarView window: days ahead from the first sync' }),
};
