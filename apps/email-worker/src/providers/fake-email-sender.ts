import type { EmailSender, OutgoingEmail } from './email-sender.js';

/**
 * In-memory sender for handler tests: records what was sent, fails as scripted. `calls` counts
 * the requests that reached the "provider": a call whose beforeRequest throws is not one, and
 * consumes no scripted failure.
 */
export function createFakeEmailSender(script: Array<Error | null> = []) {
  const sent: OutgoingEmail[] = [];
  let calls = 0;
  const sender: EmailSender = {
    async send(message, _signal, options) {
      await options?.beforeRequest?.();
      calls += 1;
      const failure = script.shift();
      if (failure) throw failure;
      sent.push(message);
      return { messageId: `fake-${sent.length}` };
    },
  };
  // a getter (Object.assign would copy the current value once)
  return Object.defineProperty(Object.assign(sender, { sent }), 'calls', { get: () => calls }) as EmailSender & {
    sent: OutgoingEmail[];
    readonly calls: number;
  };
}
