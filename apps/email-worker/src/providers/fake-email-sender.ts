import type { EmailSender, OutgoingEmail } from './email-sender.js';

/** In-memory sender for handler tests: records what was sent, fails as scripted. */
export function createFakeEmailSender(script: Array<Error | null> = []) {
  const sent: OutgoingEmail[] = [];
  let calls = 0;
  const sender: EmailSender = {
    async send(message) {
      calls += 1;
      const failure = script.shift();
      if (failure) throw failure;
      sent.push(message);
      return { messageId: `fake-${sent.length}` };
    },
  };
  return Object.assign(sender, {
    sent,
    get calls() {
      return calls;
    },
  });
}
