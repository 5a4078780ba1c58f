import type { ScoredMessage, SentimentAlertInput } from '@coldcopy/db';

/**
 * Thread aggregates and alerts (domain.md §5 analyze-sentiment): a lead message scoring below
 * −0.5 is critical, a drop of more than 0.3 from the lead's previous message is a warning, buying
 * signals are info. Only messages scored in this run raise alerts, so a re-run raises none twice.
 */
export const CRITICAL_SCORE = -0.5;
export const DROP_WARNING = 0.3;

export function assessThread(
  history: readonly ScoredMessage[],
  inserted: ReadonlySet<string>,
  buyingSignals: ReadonlyMap<string, readonly string[]>,
): { aggregate: { score: number | null; trend: 'improving' | 'stable' | 'declining' | null }; alerts: SentimentAlertInput[] } {
  // the lead's messages carry the thread's sentiment; messages scored with confidence 0 (no valid output) do not count
  const lead = history.filter((m) => m.isFromLead && m.confidence > 0);
  const recent = lead.slice(-5);
  const score = recent.length > 0 ? round3(recent.reduce((s, m) => s + m.score, 0) / recent.length) : null;
  let trend: 'improving' | 'stable' | 'declining' | null = null;
  if (lead.length >= 2) {
    const delta = lead[lead.length - 1]!.score - lead[lead.length - 2]!.score;
    trend = delta > 0.1 ? 'improving' : delta < -0.1 ? 'declining' : 'stable';
  }
  const alerts: SentimentAlertInput[] = [];
  lead.forEach((m, i) => {
    if (!inserted.has(m.messageId)) return;
    if (m.score < CRITICAL_SCORE) {
      alerts.push({
        messageId: m.messageId,
        severity: 'critical',
        alertType: 'negative_sentiment',
        message: `Lead message scored ${m.score.toFixed(2)} (below ${CRITICAL_SCORE})`,
        score: m.score,
      });
    }
    const previous = lead[i - 1];
    // scores have three decimals (numeric(4,3)): compare the drop at that precision, not in binary floating point
    if (previous && round3(previous.score - m.score) > DROP_WARNING) {
      alerts.push({
        messageId: m.messageId,
        severity: 'warning',
        alertType: 'sentiment_drop',
        message: `Sentiment dropped by ${(previous.score - m.score).toFixed(2)} since the lead's previous message`,
        score: m.score,
      });
    }
    const signals = buyingSignals.get(m.messageId) ?? [];
    if (signals.length > 0) {
      alerts.push({ messageId: m.messageId, severity: 'info', alertType: 'buying_signal', message: `Buying signals: ${signals.length}`, score: m.score });
    }
  });
  return { aggregate: { score, trend }, alerts };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
