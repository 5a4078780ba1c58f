/**
 * Dead-letter alerts to a Slack-compatible webhook (`ALERT_WEBHOOK_URL`, JSON `{ text }`).
 *
 * Rate limited: the first dead letter after a quiet period is posted at once and opens a window
 * (60 s by default); everything else in that window is counted and posted as one summary when the
 * window ends ("100 jobs dead-lettered in the last 60 s: email/send-email ×97, …"), and a window with
 * new dead letters opens the next one. A storm therefore sends one post per window, not one per job.
 * Posts carry queue, job name and error class only: never payload data, messages or secrets.
 * Posting never blocks job processing; a failing webhook is logged and forgotten.
 */

export interface AlertEvent {
  readonly queue: string;
  readonly jobName: string;
  /** error class, e.g. `InvalidPayloadError` */
  readonly error: string;
}

export interface AlertNotifier {
  notify(event: AlertEvent): void;
  /** posts the pending summary (if any) now and waits for posts in flight */
  close(): Promise<void>;
}

export interface AlertNotifierOptions {
  readonly url: string;
  readonly windowMs?: number;
  /** per post (default 5 s) */
  readonly timeoutMs?: number;
  /** prefix of every text, e.g. the app name */
  readonly source?: string;
  readonly onError?: (err: Error) => void;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

const defaultTimer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** Summary line, most frequent first. */
export function summarise(counts: ReadonlyMap<string, number>, total: number, seconds: number): string {
  const parts = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([k, n]) => `${k} ×${n}`);
  const more = counts.size > 10 ? `, and ${counts.size - 10} more job types` : '';
  return `${total} job${total === 1 ? '' : 's'} dead-lettered in the last ${seconds} s: ${parts.join(', ')}${more}`;
}

export function createAlertNotifier(options: AlertNotifierOptions): AlertNotifier {
  const windowMs = options.windowMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const setTimer = options.setTimer ?? defaultTimer;
  const label = options.source ? `[${options.source}] ` : '';
  const inFlight = new Set<Promise<void>>();

  /** open window: counts of this window, and how many of them were already posted one by one */
  let window: { start: number; counts: Map<string, number>; total: number; posted: number; timer: { cancel(): void } } | undefined;

  const post = (text: string) => {
    const p = doFetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: `${label}${text}` }),
      signal: AbortSignal.timeout(timeoutMs),
    })
      .then(async (res) => {
        if (!res.ok) throw new Error(`alert webhook answered ${res.status}`);
        await res.body?.cancel();
      })
      .catch((err: Error) => options.onError?.(err))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const endWindow = () => {
    const w = window;
    window = undefined;
    if (!w || w.total <= w.posted) return; // quiet window: the next dead letter is posted at once
    post(summarise(w.counts, w.total, Math.max(1, Math.round((now() - w.start) / 1000))));
    // Dead letters kept coming: keep aggregating in a new window instead of posting the next one at once.
    window = { start: now(), counts: new Map(), total: 0, posted: 0, timer: setTimer(endWindow, windowMs) };
  };

  return {
    notify(event) {
      const key = `${event.queue}/${event.jobName}`;
      if (!window) {
        post(`job dead-lettered: ${key} (${event.error})`);
        window = { start: now(), counts: new Map([[key, 1]]), total: 1, posted: 1, timer: setTimer(endWindow, windowMs) };
        return;
      }
      window.counts.set(key, (window.counts.get(key) ?? 0) + 1);
      window.total++;
    },
    async close() {
      const w = window;
      window = undefined;
      if (w) {
        w.timer.cancel();
        if (w.total > w.posted) post(summarise(w.counts, w.total, Math.max(1, Math.round((now() - w.start) / 1000))));
      }
      await Promise.allSettled([...inFlight]);
    },
  };
}
