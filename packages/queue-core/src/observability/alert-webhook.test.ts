import { describe, expect, it } from 'vitest';
import { createAlertNotifier, summarise } from './alert-webhook.js';

function harness(windowMs = 60_000) {
  const posts: string[] = [];
  let clock = 1_000_000;
  const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  const notifier = createAlertNotifier({
    url: 'http://alerts.test/hook',
    windowMs,
    now: () => clock,
    setTimer: (fn, ms) => {
      const t = { at: clock + ms, fn, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
    fetch: (async (_url: string, init: RequestInit) => {
      posts.push((JSON.parse(init.body as string) as { text: string }).text);
      return new Response('ok');
    }) as typeof fetch,
  });
  const advance = (ms: number) => {
    clock += ms;
    for (const t of timers.splice(0)) {
      if (t.cancelled) continue;
      if (t.at <= clock) t.fn();
      else timers.push(t);
    }
  };
  return { notifier, posts, advance, settle: () => new Promise((r) => setTimeout(r, 0)) };
}

const ev = (jobName: string) => ({ queue: 'email', jobName, error: 'PermanentJobError' });

describe('alert webhook rate limiting', () => {
  it('posts the first dead letter at once and a burst as one summary at the end of the window', async () => {
    const h = harness();
    h.notifier.notify(ev('send-email'));
    await h.settle();
    expect(h.posts).toEqual(['job dead-lettered: email/send-email (PermanentJobError)']);
    for (let i = 0; i < 96; i++) h.notifier.notify(ev('send-email'));
    for (let i = 0; i < 3; i++) h.notifier.notify(ev('warm-email'));
    await h.settle();
    expect(h.posts).toHaveLength(1);
    h.advance(60_000);
    await h.settle();
    expect(h.posts[1]).toBe('100 jobs dead-lettered in the last 60 s: email/send-email ×97, email/warm-email ×3');
    // a quiet window closes: the next dead letter is posted at once again
    h.advance(60_000);
    h.advance(1000);
    h.notifier.notify(ev('send-email'));
    await h.settle();
    expect(h.posts).toHaveLength(3);
    expect(h.posts[2]).toMatch(/^job dead-lettered/);
  });

  it('a single dead letter sends no summary; a storm sends one post per window', async () => {
    const h = harness(1000);
    h.notifier.notify(ev('a'));
    h.advance(1000);
    await h.settle();
    expect(h.posts).toHaveLength(1);
    h.notifier.notify(ev('a'));
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 50; i++) h.notifier.notify(ev('a'));
      h.advance(1000);
    }
    await h.settle();
    expect(h.posts.slice(1)).toEqual([
      'job dead-lettered: email/a (PermanentJobError)',
      '51 jobs dead-lettered in the last 1 s: email/a ×51',
      '50 jobs dead-lettered in the last 1 s: email/a ×50',
      '50 jobs dead-lettered in the last 1 s: email/a ×50',
    ]);
  });

  it('close() posts the pending summary, and a failing webhook is reported, never thrown', async () => {
    const errors: Error[] = [];
    const n = createAlertNotifier({
      url: 'http://127.0.0.1:9/hook',
      fetch: async () => new Response('no', { status: 500 }),
      onError: (e) => errors.push(e),
    });
    n.notify(ev('x'));
    n.notify(ev('x'));
    await n.close();
    expect(errors.map((e) => e.message)).toEqual(['alert webhook answered 500', 'alert webhook answered 500']);
  });

  it('summarises the ten most frequent job types', () => {
    const counts = new Map(Array.from({ length: 12 }, (_, i) => [`q/j${i}`, i + 1] as [string, number]));
    const text = summarise(counts, 78, 60);
    expect(text).toMatch(/^78 jobs dead-lettered in the last 60 s: q\/j11 ×12, q\/j10 ×11/);
    expect(text).toMatch(/and 2 more job types$/);
  });
});
