import { describe, expect, it } from 'vitest';
import { assessThread } from './sentiment.js';

const at = (m: number) => new Date(Date.UTC(2026, 11, 1, 10, m));
const msg = (id: string, score: number, minute: number, isFromLead = true, confidence = 0.9) => ({
  messageId: id,
  isFromLead,
  score,
  confidence,
  analyzedAt: at(minute),
});

describe('assessThread', () => {
  it('critical below -0.5, warning on a drop over 0.3, info for buying signals; only for messages scored now', () => {
    const history = [msg('a', 0.4, 0), msg('us', 0.9, 1, false), msg('b', -0.6, 2)];
    const { aggregate, alerts } = assessThread(history, new Set(['b']), new Map([['b', ['asked for pricing']]]));
    expect(alerts.map((a) => `${a.severity}:${a.alertType}:${a.messageId}`)).toEqual([
      'critical:negative_sentiment:b',
      'warning:sentiment_drop:b',
      'info:buying_signal:b',
    ]);
    expect(aggregate).toEqual({ score: -0.1, trend: 'declining' });
  });

  it('a drop of exactly 0.3 or a score of exactly -0.5 raises nothing; our own messages never do', () => {
    const { alerts } = assessThread(
      [msg('a', 0.2, 0), msg('b', -0.1, 1), msg('c', -0.5, 2), msg('us', -0.9, 3, false)],
      new Set(['a', 'b', 'c', 'us']),
      new Map(),
    );
    expect(alerts.filter((a) => a.severity !== 'warning')).toEqual([]);
    expect(alerts.map((a) => a.messageId)).toEqual(['c']); // -0.1 → -0.5 is a drop of 0.4
  });

  it('confidence 0 (no valid output) stays out of aggregates and alerts', () => {
    const { aggregate, alerts } = assessThread([msg('a', 0, 0, true, 0)], new Set(['a']), new Map());
    expect(aggregate).toEqual({ score: null, trend: null });
    expect(alerts).toEqual([]);
  });
});
