/**
 * aws-ses-v2-local and its recording proxy in their own process, for the benchmark: in production
 * SES is remote, so its CPU must not be counted with (or compete inside) the bench driver.
 * Protocol over the IPC channel: it sends `{ type: 'ready', endpoint }`; `{ type: 'report' }` is
 * answered with the SendRawEmail arrival times and the emulator's recipients; `{ type: 'close' }`
 * closes the servers and exits.
 */
import { startSesLocal } from '../test/ses-local.js';

export type SesProcessMessage =
  | { type: 'ready'; endpoint: string }
  | { type: 'report'; sendTimes: number[]; recipients: string[] };

const ses = await startSesLocal({ record: 'arrivals' });
const send = (m: SesProcessMessage) => process.send!(m);
process.on('message', (m: { type: 'report' | 'close' }) => {
  if (m.type === 'report') {
    void ses.emails().then((emails) =>
      send({
        type: 'report',
        sendTimes: ses.requests.filter((r) => r.form.get('Action') === 'SendRawEmail').map((r) => r.at),
        recipients: emails.map((e) => e.destination.to[0]!),
      }),
    );
  } else if (m.type === 'close') {
    void ses.close().then(() => process.exit(0));
  }
});
// the bench died without saying goodbye
process.on('disconnect', () => process.exit(0));
send({ type: 'ready', endpoint: ses.endpoint });
