import type { Answer } from './http-emulator.js';
import { grantControl, type OAuthEmulator } from './oauth-emulator.js';

/**
 * The control routes both calendar emulators share (for `npm run dev` and processes that did not
 * start them): `POST /__emulator/grant { account }`, `POST /__emulator/events { account, start,
 * end, … }` (an event created or changed "in the provider"), `DELETE /__emulator/events
 * { account, id }`, and `DELETE <cursorsPath>` (every sync token / delta link expires: 410 next time).
 */
export function calendarControl<I extends { start: string; end: string }>(options: {
  oauth: OAuthEmulator;
  put: (account: string, input: I) => unknown;
  remove: (account: string, id: string) => void;
  expireCursors: () => void;
  cursorsPath: string;
}): (method: string, path: string, body: unknown) => Answer | undefined {
  return (method, path, body) => {
    const granted = grantControl(options.oauth, method, path, body);
    if (granted) return granted;
    const b = (body ?? {}) as { account?: string; id?: string } & Partial<I>;
    if (path === '/__emulator/events' && method === 'POST') {
      if (!b.account || !b.start || !b.end) return { status: 400, body: { error: 'account, start and end are required' } };
      return { status: 200, body: options.put(b.account, b as unknown as I) };
    }
    if (path === '/__emulator/events' && method === 'DELETE') {
      if (!b.account || !b.id) return { status: 400, body: { error: 'account and id are required' } };
      options.remove(b.account, b.id);
      return { status: 204 };
    }
    if (path === options.cursorsPath && method === 'DELETE') {
      options.expireCursors();
      return { status: 204 };
    }
    return undefined;
  };
}
