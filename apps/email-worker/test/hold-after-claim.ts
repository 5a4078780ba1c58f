/**
 * Test instrumentation, loaded into a spawned worker with `--import` (never part of the app): the
 * first HOLD_CLAIMS successful send claims (the claim statement of @coldcopy/db) are held
 * HOLD_AFTER_CLAIM_MS before the worker sees them, and each is announced on stderr as
 * `CLAIMED <campaign_emails.id>`. The freeze test stops the process (SIGSTOP) inside that window:
 * frozen right after a claim, before its request goes on the wire.
 */
import pg from 'pg';

const holdMs = Number(process.env.HOLD_AFTER_CLAIM_MS ?? 0);
let left = Number(process.env.HOLD_CLAIMS ?? 0);
type Callback = (err: Error | null, res: { rows: Array<{ id?: string | null }> }) => void;

if (holdMs > 0 && left > 0) {
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: unknown, ...args: unknown[]) {
    const config = args[0] as { name?: string } | undefined;
    const at = args.findIndex((a) => typeof a === 'function');
    if (config?.name !== 'coldcopy_claim_unless_suppressed' || at < 0 || left <= 0) return original.apply(this, args);
    const callback = args[at] as Callback;
    args[at] = ((err, res) => {
      const id = res?.rows?.[0]?.id;
      if (err || !id || left <= 0) return callback(err, res);
      left--;
      process.stderr.write(`CLAIMED ${id}\n`);
      setTimeout(() => callback(err, res), holdMs);
    }) as Callback;
    return original.apply(this, args);
  };
}
