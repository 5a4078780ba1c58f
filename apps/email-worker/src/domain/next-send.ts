import type { CampaignRow, CampaignStepRow } from '@coldcopy/db';
import { alignToWindow, type SendWindow } from './schedule.js';

export function campaignWindow(campaign: Pick<CampaignRow, 'timezone' | 'schedule_settings'>): SendWindow {
  const s = campaign.schedule_settings ?? {};
  return {
    timezone: campaign.timezone || 'UTC',
    start: s.sendBetween?.start,
    end: s.sendBetween?.end,
    excludeWeekends: s.excludeWeekends === true,
  };
}

/** When the next step is due after a send: its delay, moved into the campaign's window. Null after the last step. */
export function nextSendTime(
  campaign: Pick<CampaignRow, 'timezone' | 'schedule_settings'>,
  nextStep: Pick<CampaignStepRow, 'delay_days' | 'delay_hours'> | null,
  sentAt: Date,
): Date | null {
  if (!nextStep) return null;
  const due = new Date(sentAt.getTime() + (nextStep.delay_days * 24 + nextStep.delay_hours) * 3_600_000);
  return alignToWindow(due, campaignWindow(campaign));
}
