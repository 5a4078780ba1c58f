import { workspacesWithLinkedin } from '@coldcopy/db';
import { PermanentJobError, syncLinkedin } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { checkLinkedinIdentities } from '../sync/linkedin-sync.js';
import { fanOutPages, tenantOf } from './fan-out.js';

/**
 * sync-linkedin: `identity` checks every LinkedIn sign-in of the workspace (OIDC userinfo, token
 * expiry, reconnect notices). `analytics` is refused without a call: organisation and post
 * statistics are partner-gated (Community Management / Marketing programs), see the README. The
 * fan-out form (schedule `linkedin-identity-check`, daily 06:00 UTC) enqueues the check for every
 * workspace with an active sign-in.
 */
export const syncLinkedinHandler: Handler<typeof syncLinkedin, IntegrationDeps> = async (payload, ctx) => {
  if (payload.jobType === 'analytics') {
    throw new PermanentJobError('LinkedIn analytics need a partner program (Community Management or Marketing API) that ColdCopy is not in; no call was made');
  }
  if (payload.fanOut) {
    const date = payload.date ?? ctx.scheduledAt.toISOString().slice(0, 10);
    const enqueued = await fanOutPages(
      ctx,
      (afterWorkspaceId, limit) => workspacesWithLinkedin(ctx.deps.pool, { ...(afterWorkspaceId ? { afterWorkspaceId } : {}), limit }),
      (ws) => ws,
      (due) =>
        ctx.enqueueBulk(
          syncLinkedin,
          due.map((workspaceId) => ({ data: { workspaceId, requestedBy: 'system', jobType: 'identity', date } })),
        ),
    );
    return { enqueued, date };
  }
  const counts = await checkLinkedinIdentities(ctx.deps, tenantOf(payload), new Date(), ctx.signal);
  for (let i = 0; i < counts.expired + counts.revoked; i++) ctx.deps.metrics.authFailure('linkedin');
  ctx.log.info('linkedin identity check finished', { ...counts });
  return counts;
};
