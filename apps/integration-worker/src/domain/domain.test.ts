import type { SyncLead } from '@coldcopy/db';
import { describe, expect, it } from 'vitest';
import {
  FieldMappingError,
  HUBSPOT_CONTACT_MAPPING as M,
  inboundFieldsOf,
  leadHash,
  mappingFor,
  remotePropertiesOf,
  SALESFORCE_CONTACT_MAPPING,
  syncHash,
} from './field-mapping.js';
import { msUntilMidnight } from './time.js';

const lead = (over: Partial<SyncLead> = {}): SyncLead =>
  ({
    id: '00000000-0000-4000-8000-000000000001',
    email: 'ada@acme.com',
    deleted_at: null,
    first_name: 'Ada',
    last_name: 'Lovelace',
    company: 'Acme',
    title: null,
    phone: '+1 555',
    website: null,
    linkedin_url: null,
    location: null,
    industry: null,
    status: 'new',
    last_contacted_at: null,
    ...over,
  }) as SyncLead;

describe('field mapping', () => {
  it('hashes a lead and the record a push wrote the same way (echo suppression)', () => {
    const written = remotePropertiesOf(M, lead(), true);
    expect(syncHash(M, { ...written, lastmodifieddate: '2026-01-01T00:00:00Z', hs_object_id: '7' })).toBe(leadHash(M, lead()));
    expect(syncHash(M, { ...written, firstname: 'Augusta' })).not.toBe(leadHash(M, lead()));
  });

  it('pushes CRM-owned fields only on create and never pulls ColdCopy-owned ones', () => {
    expect(remotePropertiesOf(M, lead(), false)).not.toHaveProperty('phone');
    expect(remotePropertiesOf(M, lead(), true)).toMatchObject({ phone: '+1 555', coldcopy_lead_id: lead().id });
    const inbound = inboundFieldsOf(M, { firstname: 'Augusta', phone: '+44', coldcopy_status: 'replied', jobtitle: '' });
    expect(inbound).toEqual({ first_name: 'Augusta', last_name: null, company: null, title: null, website: null, phone: '+44' });
  });
});

describe('field-mapping overrides (connection settings.fieldMappings)', () => {
  const issuesOf = (settings: Record<string, unknown>, provider: 'hubspot' | 'salesforce' = 'hubspot') => {
    try {
      mappingFor(provider, 'contacts', settings);
    } catch (err) {
      expect(err).toBeInstanceOf(FieldMappingError);
      expect((err as FieldMappingError).permanent).toBe(true);
      return (err as FieldMappingError).issues;
    }
    throw new Error('no FieldMappingError');
  };

  it('keeps the defaults without overrides, and the two CRMs map the same columns in the same order', () => {
    expect(mappingFor('hubspot', 'contacts', {})).toBe(M);
    expect(mappingFor('salesforce', 'contacts', { fieldMappings: {} })).toBe(SALESFORCE_CONTACT_MAPPING);
    expect(SALESFORCE_CONTACT_MAPPING.fields.map((f) => f.local)).toEqual(['email', 'first_name', 'last_name', 'title', 'phone', 'id', 'status']);
    expect(M.fields.map((f) => [f.local, f.remote, f.resolution])).toContainEqual(['phone', 'phone', 'remote_wins']);
  });

  it('renames, re-rules, adds and drops fields; ownership then decides what a push and a pull touch', () => {
    const m = mappingFor('hubspot', 'contacts', {
      fieldMappings: {
        contacts: {
          title: { remote: 'hs_job_title', resolution: 'remote_wins' },
          phone: { resolution: 'newest_wins' },
          industry: { remote: 'industry' },
          website: false,
        },
      },
    });
    expect(m.fields.find((f) => f.local === 'title')).toEqual({ local: 'title', remote: 'hs_job_title', resolution: 'remote_wins' });
    expect(m.fields.find((f) => f.local === 'industry')).toEqual({ local: 'industry', remote: 'industry', resolution: 'newest_wins' });
    expect(m.fields.some((f) => f.local === 'website')).toBe(false);
    const l = lead({ title: 'CTO', industry: 'Software' });
    // phone is no longer CRM-owned: pushed on update too; title now is: only on create
    expect(remotePropertiesOf(m, l, false)).toMatchObject({ phone: '+1 555', industry: 'Software' });
    expect(remotePropertiesOf(m, l, false)).not.toHaveProperty('hs_job_title');
    expect(remotePropertiesOf(m, l, false)).not.toHaveProperty('website');
    expect(inboundFieldsOf(m, { hs_job_title: 'VP', industry: 'Retail', website: 'x.com' })).toMatchObject({ title: 'VP', industry: 'Retail' });
    expect(inboundFieldsOf(m, { website: 'x.com' })).not.toHaveProperty('website');
  });

  it('refuses bad mappings with one error naming every bad entry', () => {
    const issues = issuesOf({
      fieldMappings: {
        contacts: {
          email: { remote: 'work_email' },
          nickname: { remote: 'nick' },
          location: { resolution: 'remote_wins' },
          title: { remote: 'job title' },
          company: { resolution: 'manual' },
          status: { resolution: 'remote_wins' },
          phone: { remote: 'lastmodifieddate' },
          first_name: { remote: 'lastname' },
          last_name: 'yes',
          industry: { remote: 'industry', owner: 'crm' },
        },
        deals: {},
      },
    });
    expect(issues).toEqual([
      'object types deals have no mapping (known: contacts)',
      "contacts.email: the record's identity cannot be remapped",
      expect.stringMatching(/^contacts\.nickname: unknown lead column \(mappable: first_name, /),
      'contacts.location.remote: required for a column the default mapping leaves out',
      'contacts.title.remote: not a property name (letters, digits, _; at most 100)',
      'contacts.company.resolution: manual needs a review queue, which the sync does not have (use remote_wins, local_wins, newest_wins)',
      'contacts.status.resolution: ColdCopy owns status (engagement): only local_wins',
      'contacts.phone.remote: lastmodifieddate is kept by the sync itself',
      'contacts.last_name: must be false or { remote?, resolution? }',
      'contacts.industry: unknown keys owner',
      'contacts: first_name and last_name both map to lastname',
    ]);
    expect(issuesOf({ fieldMappings: ['contacts'] })).toEqual(['must be an object keyed by object type']);
    expect(issuesOf({ fieldMappings: { contacts: { title: { remote: 'SystemModstamp' } } } }, 'salesforce')).toEqual([
      'contacts.title.remote: SystemModstamp is kept by the sync itself',
    ]);
    expect(() => mappingFor('hubspot', 'contacts', { fieldMappings: { contacts: { title: { resolution: 'manual' } } } })).toThrow(
      /^hubspot connection settings\.fieldMappings is invalid: contacts\.title\.resolution: manual/,
    );
  });
});

describe('msUntilMidnight', () => {
  it('counts to midnight in the account time zone', () => {
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'UTC')).toBe(3_600_000);
    // 18:00 in New York (UTC-5 in December) is 6 hours before its midnight
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'America/New_York')).toBe(6 * 3_600_000);
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'Not/AZone')).toBe(3_600_000);
  });
});
