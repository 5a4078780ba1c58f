import type { UnsubscribeConfig } from './domain/unsubscribe.js';

/** The settings handlers read, derived from env in deps.ts (tests build it directly). */
export interface EmailConfig {
  /** a `sending` row older than this is an unknown outcome */
  readonly leaseMs: number;
  /**
   * The sender's own view of its lease ends this much earlier (measured on the monotonic clock
   * from before the claim): a request is put on the wire only inside it (LEASE_SAFETY_MS).
   */
  readonly leaseSafetyMs?: number;
  /** unknown outcomes without an SES Send event after `windowMs`: review (failed_unknown) or resend once */
  readonly unknownOutcome: { readonly windowMs: number; readonly policy: 'review' | 'resend-once' };
  readonly sesThrottleRetryMs: number;
  /** the campaign tick enqueues a claimable row's job again after this long unclaimed (SEND_REENQUEUE_AFTER_MS) */
  readonly reenqueueAfterMs: number;
  /** the campaign tick delays each new send-email job by a random 0…sendJitterMs */
  readonly sendJitterMs: number;
  readonly sesQuotaRetryMs: number;
  readonly defaultConfigurationSet: string | undefined;
  readonly unsubscribe: UnsubscribeConfig;
  readonly snsTopicArns: readonly string[];
  readonly reputation: {
    readonly bounceRate: number;
    readonly complaintRate: number;
    readonly bounceMinSends: number;
    readonly complaintMinSends: number;
  };
  readonly warmup: { readonly startVolume: number; readonly dailyGrowth: number; readonly targetVolume: number };
}
