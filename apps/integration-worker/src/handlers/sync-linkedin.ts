import { PermanentJobError, type syncLinkedin } from '@coldcopy/queue-core';
import type { Handler } from '@coldcopy/queue-core/runtime';
import type { IntegrationDeps } from '../deps.js';
import { checkLinkedinIdentities } from '../sync/linkedin-sync.js';

/**
 * sync-linkedin: `identity` checks every LinkedIn sign-in of the workspace (OIDC userinfo, token
 * expiry, reconnect notices). `analytics` is refused without a call: organisation and post
 * statistics are partner-gated (Community Management / Marketing programs), see the README.
 */
export const syncLinkedinHandler: Handler<typeof syncLinkedin, IntegrationDeps> = async (payload, ctx) => {
  if (payload.jobType === 'analytics') {
    throw new PermanentJobError('LinkedIn analytics need a partner program (Community Management or Marketing API) that ColdCopy is not in; no call was made');
  }
  const counts = await checkLinkedinIdentities(ctx.deps, payload.workspaceId, new Date(), ctx.signal);
  ctx.log.info('linkedin identity check finished', { ...counts });
  return counts;
};
