/**
 * Typed errors of the data layer. Like queue-core's errors they carry a stable `name` (and
 * `permanent` where retrying cannot help), so the worker runtime can classify them without
 * importing this package.
 */

/** Tables whose ids arrive in job payloads and are checked against the job's workspace. */
export type ScopedTable =
  | 'campaigns'
  | 'campaign_sequences'
  | 'campaign_leads'
  | 'campaign_emails'
  | 'leads'
  | 'mailboxes'
  | 'webhook_dedupe'
  | 'workspaces'
  | 'export_jobs'
  | 'report_runs'
  | 'uploads';

/**
 * An id from a job payload belongs to another workspace. Nothing was read or written. Never
 * retried: the payload is wrong (or malicious), not the moment.
 */
export class TenancyError extends Error {
  override name = 'TenancyError';
  readonly permanent = true;
  constructor(
    readonly table: ScopedTable,
    readonly id: string,
    readonly workspaceId: string,
  ) {
    super(`${table} ${id} does not belong to workspace ${workspaceId}`);
  }
}

/** The id does not exist at all (deleted, or never existed). */
export class RecordNotFoundError extends Error {
  override name = 'RecordNotFoundError';
  readonly permanent = true;
  constructor(
    readonly table: ScopedTable,
    readonly id: string,
  ) {
    super(`${table} ${id} not found`);
  }
}

/**
 * email_events has no partition for the row's month ("no partition of relation ... found for
 * row"): partition maintenance has not run. Retryable once maintenance creates it.
 */
export class MissingPartitionError extends Error {
  override name = 'MissingPartitionError';
  constructor(
    readonly table: string,
    readonly at: Date,
    options?: { cause?: unknown },
  ) {
    super(`no ${table} partition for ${at.toISOString()}: run partition maintenance`, options);
  }
}

/**
 * A send-ledger transition that the row's current status does not allow (e.g. marking a row sent
 * that nobody claimed). The row was not changed.
 */
export class LedgerStateError extends Error {
  override name = 'LedgerStateError';
  readonly permanent = true;
  constructor(
    readonly campaignEmailId: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`campaign_emails ${campaignEmailId}: cannot go from ${from} to ${to}`);
  }
}

/**
 * A fenced ledger write (sent, unknown, failed, give-back) by an attempt that no longer holds the
 * row: another attempt claimed it since (campaign_emails.attempt, the claim token, moved on). The
 * row was not changed; the caller logs what its attempt did.
 */
export class ClaimLostError extends LedgerStateError {
  override name = 'ClaimLostError';
  constructor(
    campaignEmailId: string,
    from: string,
    to: string,
    /** the token of the attempt that wrote */
    readonly attempt: number,
    /** the row's token now */
    readonly currentAttempt: number,
  ) {
    super(campaignEmailId, from, to);
    this.message = `campaign_emails ${campaignEmailId}: claim ${attempt} was lost (the row is ${from} under claim ${currentAttempt}); not moved to ${to}`;
  }
}
