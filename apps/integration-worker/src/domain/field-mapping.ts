import { createHash } from 'node:crypto';
import type { SyncableLeadColumn, SyncLead } from '@coldcopy/db';

/**
 * Lead ↔ CRM record mapping with field ownership (providers.md §11.6): the CRM owns phone (and
 * lifecycle, owner, deal fields, which ColdCopy does not map); ColdCopy owns its engagement fields;
 * identity fields take the newest value. `remote_wins` fields are pushed only when the record is
 * created; `local_wins` fields are never applied from a pull.
 *
 * The sync hash is over every mapped remote property, computed the same way from a lead (what a
 * push would write) and from a pulled record (what the provider holds): equal hashes mean the
 * two sides agree, so a pulled echo of our own push, or a push of what was just pulled, is
 * skipped (echo suppression, §11.5).
 */
export type ConflictResolution = 'remote_wins' | 'local_wins' | 'newest_wins';

export interface FieldMapping {
  readonly local: SyncableLeadColumn | 'email' | 'id';
  readonly remote: string;
  readonly resolution: ConflictResolution;
}

export interface RecordMapping {
  /** the remote property matched on (HubSpot idProperty, Salesforce external id field) */
  readonly idProperty: string;
  /** the remote property holding the remote's last change time */
  readonly modifiedProperty: string;
  readonly fields: readonly FieldMapping[];
}

export const HUBSPOT_CONTACT_MAPPING: RecordMapping = {
  idProperty: 'email',
  modifiedProperty: 'lastmodifieddate',
  fields: [
    { local: 'email', remote: 'email', resolution: 'newest_wins' },
    { local: 'first_name', remote: 'firstname', resolution: 'newest_wins' },
    { local: 'last_name', remote: 'lastname', resolution: 'newest_wins' },
    { local: 'company', remote: 'company', resolution: 'newest_wins' },
    { local: 'title', remote: 'jobtitle', resolution: 'newest_wins' },
    { local: 'website', remote: 'website', resolution: 'newest_wins' },
    { local: 'phone', remote: 'phone', resolution: 'remote_wins' },
    { local: 'id', remote: 'coldcopy_lead_id', resolution: 'local_wins' },
    { local: 'status', remote: 'coldcopy_status', resolution: 'local_wins' },
    { local: 'last_contacted_at', remote: 'coldcopy_last_contacted', resolution: 'local_wins' },
  ],
};

export const SALESFORCE_CONTACT_MAPPING: RecordMapping = {
  idProperty: 'ColdCopy_Id__c',
  modifiedProperty: 'SystemModstamp',
  fields: [
    { local: 'email', remote: 'Email', resolution: 'newest_wins' },
    { local: 'first_name', remote: 'FirstName', resolution: 'newest_wins' },
    { local: 'last_name', remote: 'LastName', resolution: 'newest_wins' },
    { local: 'title', remote: 'Title', resolution: 'newest_wins' },
    { local: 'phone', remote: 'Phone', resolution: 'remote_wins' },
    { local: 'id', remote: 'ColdCopy_Id__c', resolution: 'local_wins' },
    { local: 'status', remote: 'ColdCopy_Status__c', resolution: 'local_wins' },
  ],
};

/** The remote property that holds the address. */
export const emailPropertyOf = (mapping: RecordMapping) => mapping.fields.find((f) => f.local === 'email')!.remote;

const norm = (v: unknown) => (v === null || v === undefined ? '' : String(v).trim());

/** The remote properties of a lead as a push would write them (`created`: include CRM-owned fields). */
export function remotePropertiesOf(mapping: RecordMapping, lead: SyncLead, created: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of mapping.fields) {
    if (f.resolution === 'remote_wins' && !created) continue;
    out[f.remote] = norm(lead[f.local as keyof SyncLead]);
  }
  return out;
}

/** The hash of a record's mapped properties (lead side: every mapped field). */
export function syncHash(mapping: RecordMapping, properties: Record<string, unknown>): string {
  const h = createHash('sha256');
  for (const f of mapping.fields) h.update(`${f.remote}=${norm(properties[f.remote]).replace(/\n/g, ' ')}\n`);
  return h.digest('hex');
}

export const leadHash = (mapping: RecordMapping, lead: SyncLead) => syncHash(mapping, remotePropertiesOf(mapping, lead, true));

/** The local columns a pull may write, and their values from a remote record. */
export function inboundFieldsOf(mapping: RecordMapping, properties: Record<string, unknown>): Partial<Record<SyncableLeadColumn, string | null>> {
  const out: Partial<Record<SyncableLeadColumn, string | null>> = {};
  for (const f of mapping.fields) {
    if (f.resolution === 'local_wins' || f.local === 'email' || f.local === 'id') continue;
    const v = norm(properties[f.remote]);
    out[f.local] = v === '' ? null : v;
  }
  return out;
}

export const inboundColumnsOf = (mapping: RecordMapping): SyncableLeadColumn[] =>
  mapping.fields.filter((f) => f.resolution !== 'local_wins' && f.local !== 'email' && f.local !== 'id').map((f) => f.local as SyncableLeadColumn);

export const remotePropertyNames = (mapping: RecordMapping): string[] => [...new Set([...mapping.fields.map((f) => f.remote), mapping.modifiedProperty])];
