import { type Answer, HttpEmulator, type Route } from '@coldcopy/testing/emulator';

/**
 * The enrichment emulators' base: the shared HTTP emulator of @coldcopy/testing (server, request
 * log with credits and input hashes, faults, control API) with the providers' error envelope, 403
 * counted as a rate-limit answer (Hunter's), and one more control route:
 *   POST   /__emulator/credits   { credits } sets the balance
 */
export {
  type Answer,
  capitalise,
  type EmulatorRequest,
  type Fault,
  FixedWindow,
  hashInput,
  pick,
  type RequestLogEntry,
  type Route,
  SlidingWindow,
} from '@coldcopy/testing/emulator';

export class EmulatorServer extends HttpEmulator {
  /** set by the provider emulator: the control API's credit setter */
  onCredits: ((credits: number) => void) | undefined;

  /** `arrivalHeader`: see HttpEmulatorOptions (a bench's kernel-stamp relay in front) */
  constructor(name: string, route: Route, options: { readonly arrivalHeader?: string } = {}) {
    super(name, route, { errorBody: (_status, message) => ({ error: message }), rateLimitStatuses: [429, 403], ...options });
  }

  protected override extraControl(method: string, path: string, body: unknown): Answer | undefined {
    if (path !== '/__emulator/credits' || method !== 'POST') return undefined;
    const credits = (body as { credits?: unknown } | undefined)?.credits;
    if (typeof credits !== 'number') return { status: 400, body: { error: 'credits must be a number' } };
    this.onCredits?.(credits);
    return { status: 204 };
  }
}
