import type { Pool } from '@coldcopy/db';
import type { StoredEmail } from './ses-local.js';

/** A campaign's ledger rows by status (statuses without rows are absent). */
export async function statusCounts(pool: Pool, campaignId: string): Promise<Record<string, number>> {
  const { rows } = await pool.query('SELECT status, count(*)::int AS n FROM campaign_emails WHERE campaign_id = $1 GROUP BY status', [campaignId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** How many emails the SES emulator holds per recipient address. */
export function emailsPerRecipient(emails: readonly StoredEmail[]): Map<string, number> {
  const per = new Map<string, number>();
  for (const e of emails) per.set(e.destination.to[0]!, (per.get(e.destination.to[0]!) ?? 0) + 1);
  return per;
}
