import { createHash } from 'node:crypto';
import { SYNCABLE_LEAD_COLUMNS, type SyncableLeadColumn, type SyncLead } from '@coldcopy/db';
import { PermanentJobError } from '@coldcopy/queue-core';

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

export type CrmProvider = 'hubspot' | 'salesforce';

/**
 * The default contact mapping of both CRMs, one row per lead column: its HubSpot property, its
 * Salesforce field (null: not mapped there) and who owns it. The order is the hash order.
 */
const CONTACT_FIELDS: ReadonlyArray<readonly [FieldMapping['local'], string, string | null, ConflictResolution]> = [
  ['email', 'email', 'Email', 'newest_wins'],
  ['first_name', 'firstname', 'FirstName', 'newest_wins'],
  ['last_name', 'lastname', 'LastName', 'newest_wins'],
  ['company', 'company', null, 'newest_wins'],
  ['title', 'jobtitle', 'Title', 'newest_wins'],
  ['website', 'website', null, 'newest_wins'],
  ['phone', 'phone', 'Phone', 'remote_wins'],
  ['id', 'coldcopy_lead_id', 'ColdCopy_Id__c', 'local_wins'],
  ['status', 'coldcopy_status', 'ColdCopy_Status__c', 'local_wins'],
  ['last_contacted_at', 'coldcopy_last_contacted', null, 'local_wins'],
];

const contactMapping = (provider: CrmProvider, idProperty: string, modifiedProperty: string): RecordMapping => ({
  idProperty,
  modifiedProperty,
  fields: CONTACT_FIELDS.flatMap(([local, hubspot, salesforce, resolution]) => {
    const remote = provider === 'hubspot' ? hubspot : salesforce;
    return remote ? [{ local, remote, resolution }] : [];
  }),
});

export const HUBSPOT_CONTACT_MAPPING: RecordMapping = contactMapping('hubspot', 'email', 'lastmodifieddate');
export const SALESFORCE_CONTACT_MAPPING: RecordMapping = contactMapping('salesforce', 'ColdCopy_Id__c', 'SystemModstamp');

const DEFAULT_MAPPINGS: Readonly<Record<CrmProvider, Readonly<Record<string, RecordMapping>>>> = {
  hubspot: { contacts: HUBSPOT_CONTACT_MAPPING },
  salesforce: { contacts: SALESFORCE_CONTACT_MAPPING },
};

/** The object types a provider has a mapping for. */
export const mappedObjectTypes = (provider: CrmProvider): string[] => Object.keys(DEFAULT_MAPPINGS[provider]);

/** A connection's `settings.fieldMappings` is wrong: the job fails for good, naming every bad entry. */
export class FieldMappingError extends PermanentJobError {
  override name = 'FieldMappingError';
  constructor(
    readonly provider: CrmProvider,
    readonly issues: readonly string[],
  ) {
    super(`${provider} connection settings.fieldMappings is invalid: ${issues.join('; ')}`);
  }
}

/** Engagement columns ColdCopy owns: a pull never writes them (applyInboundLeads refuses them too). */
const COLDCOPY_OWNED: ReadonlySet<string> = new Set(['status', 'last_contacted_at']);
const REMOTE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;
const RESOLUTIONS: readonly ConflictResolution[] = ['remote_wins', 'local_wins', 'newest_wins'];

/**
 * The mapping of one object type for a connection: the default, changed by the connection's
 * `settings.fieldMappings[objectType]`, an object keyed by lead column:
 *   `{ "title": { "remote": "hs_job_title", "resolution": "remote_wins" }, "website": false, "industry": { "remote": "industry" } }`
 * An entry replaces the remote property and/or the conflict rule of a mapped column, maps a
 * column the default leaves out (`remote` required), or drops a column (`false`). `email` and
 * `id` (the identity of a record) and the provider's own id and modification properties cannot be
 * changed; ColdCopy's engagement columns stay `local_wins`; `manual` (a review queue) is not
 * offered. Every problem is named in one FieldMappingError.
 */
export function mappingFor(provider: CrmProvider, objectType: string, settings: Record<string, unknown>): RecordMapping {
  const base = DEFAULT_MAPPINGS[provider][objectType];
  if (!base) throw new PermanentJobError(`${provider} ${objectType} have no field mapping`);
  const all = settings.fieldMappings;
  if (all === undefined || all === null) return base;
  const issues: string[] = [];
  if (typeof all !== 'object' || Array.isArray(all)) throw new FieldMappingError(provider, ['must be an object keyed by object type']);
  const unknownTypes = Object.keys(all).filter((t) => !DEFAULT_MAPPINGS[provider][t]);
  if (unknownTypes.length) issues.push(`object types ${unknownTypes.join(', ')} have no mapping (known: ${mappedObjectTypes(provider).join(', ')})`);
  const overrides = (all as Record<string, unknown>)[objectType];
  if (overrides === undefined || overrides === null) {
    if (issues.length) throw new FieldMappingError(provider, issues);
    return base;
  }
  if (typeof overrides !== 'object' || Array.isArray(overrides))
    throw new FieldMappingError(provider, [...issues, `${objectType}: must be an object keyed by lead column`]);
  const fields = new Map(base.fields.map((f) => [f.local, f]));
  for (const [local, raw] of Object.entries(overrides as Record<string, unknown>)) {
    const at = `${objectType}.${local}`;
    if (local === 'email' || local === 'id') {
      issues.push(`${at}: the record's identity cannot be remapped`);
      continue;
    }
    if (!(SYNCABLE_LEAD_COLUMNS as readonly string[]).includes(local)) {
      issues.push(`${at}: unknown lead column (mappable: ${SYNCABLE_LEAD_COLUMNS.join(', ')})`);
      continue;
    }
    if (raw === false) {
      fields.delete(local as SyncableLeadColumn);
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      issues.push(`${at}: must be false or { remote?, resolution? }`);
      continue;
    }
    const entry = raw as { remote?: unknown; resolution?: unknown };
    const extra = Object.keys(entry).filter((k) => k !== 'remote' && k !== 'resolution');
    if (extra.length) issues.push(`${at}: unknown keys ${extra.join(', ')}`);
    const current = fields.get(local as SyncableLeadColumn);
    const remote = entry.remote ?? current?.remote;
    const resolution = entry.resolution ?? current?.resolution ?? 'newest_wins';
    if (remote === undefined) issues.push(`${at}.remote: required for a column the default mapping leaves out`);
    else if (typeof remote !== 'string' || !REMOTE_NAME.test(remote)) issues.push(`${at}.remote: not a property name (letters, digits, _; at most 100)`);
    else if (remote === base.modifiedProperty || (remote === base.idProperty && local !== 'id'))
      issues.push(`${at}.remote: ${remote} is kept by the sync itself`);
    if (resolution === 'manual') issues.push(`${at}.resolution: manual needs a review queue, which the sync does not have (use ${RESOLUTIONS.join(', ')})`);
    else if (!RESOLUTIONS.includes(resolution as ConflictResolution)) issues.push(`${at}.resolution: must be one of ${RESOLUTIONS.join(', ')}`);
    else if (COLDCOPY_OWNED.has(local) && resolution !== 'local_wins') issues.push(`${at}.resolution: ColdCopy owns ${local} (engagement): only local_wins`);
    if (typeof remote === 'string')
      fields.set(local as SyncableLeadColumn, { local: local as SyncableLeadColumn, remote, resolution: resolution as ConflictResolution });
  }
  const byRemote = new Map<string, string[]>();
  for (const f of fields.values()) byRemote.set(f.remote.toLowerCase(), [...(byRemote.get(f.remote.toLowerCase()) ?? []), f.local]);
  for (const [remote, locals] of byRemote) if (locals.length > 1) issues.push(`${objectType}: ${locals.join(' and ')} both map to ${remote}`);
  if (issues.length) throw new FieldMappingError(provider, issues);
  return { ...base, fields: [...fields.values()] };
}

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
