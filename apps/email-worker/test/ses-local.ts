import { type RecordedRequest, type SesSimulator, type SesSimulatorOptions, startSesEmulator, startSesSimulator } from '../src/emulators/ses-simulator.js';

/** What aws-ses-v2-local keeps per email (GET /store). */
export interface StoredEmail {
  messageId: string;
  from: string;
  replyTo: string[];
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { html?: string; text?: string };
  at: number;
}

export interface SesLocal {
  /** the endpoint to give the SES client (the simulator in front of the emulator) */
  readonly endpoint: string;
  /** every SES API request, in arrival order */
  readonly requests: RecordedRequest[];
  /** the SES event simulator itself (accepted messages, notifications published) */
  readonly simulator: SesSimulator;
  emails(): Promise<StoredEmail[]>;
  /** raw MIME of every SendRawEmail, decoded from the recorded request */
  rawMessages(): string[];
  clear(): Promise<void>;
  close(): Promise<void>;
}

export type SesLocalOptions = SesSimulatorOptions;

export { startSesEmulator, type RecordedRequest };

/**
 * aws-ses-v2-local on a free loopback port behind the SES event simulator
 * (src/emulators/ses-simulator.ts): the emulator parses raw messages but does not keep their
 * headers, so the simulator keeps each request (for the List-Unsubscribe assertions) and its
 * arrival time (for the rate measurements); with a `webhookUrl` it also publishes the SES events.
 */
export async function startSesLocal(options: SesLocalOptions = {}): Promise<SesLocal> {
  const simulator = await startSesSimulator(options);
  return {
    endpoint: simulator.url,
    requests: simulator.requests,
    simulator,
    async emails() {
      const res = await fetch(`${simulator.upstream}/store`);
      return ((await res.json()) as { emails: StoredEmail[] }).emails;
    },
    rawMessages() {
      return simulator.requests
        .filter((r) => r.form.get('Action') === 'SendRawEmail')
        .map((r) => Buffer.from(r.form.get('RawMessage.Data') ?? '', 'base64').toString());
    },
    clear: () => simulator.clear(),
    close: () => simulator.close(),
  };
}
