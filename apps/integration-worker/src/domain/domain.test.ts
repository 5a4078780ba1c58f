import type { SyncLead } from '@coldcopy/db';
import { describe, expect, it } from 'vitest';
import { HUBSPOT_CONTACT_MAPPING as M, inboundFieldsOf, leadHash, remotePropertiesOf, syncHash } from './field-mapping.js';
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

describe('msUntilMidnight', () => {
  it('counts to midnight in the account time zone', () => {
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'UTC')).toBe(3_600_000);
    // 18:00 in New York (UTC-5 in December) is 6 hours before its midnight
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'America/New_York')).toBe(6 * 3_600_000);
    expect(msUntilMidnight(new Date('2026-12-06T23:00:00Z'), 'Not/AZone')).toBe(3_600_000);
  });
});
