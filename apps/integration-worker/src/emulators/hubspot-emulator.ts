import { type Answer, HttpEmulator, RollingWindow } from './http-emulator.js';
import { grantControl, type OAuthEmulator } from './oauth-emulator.js';

/**
 * HubSpot CRM v3 contacts as the sync uses them (providers.md §7), on the wire:
 * - `POST /crm/v3/objects/contacts/batch/upsert` `{ inputs: [{ id, idProperty, properties }] }`,
 *   at most 100 inputs; 200, or 207 with `errors[]` when some rows failed (an address without `@`,
 *   or one listed in `rejectIds`); results carry `new`.
 * - `POST /crm/v3/objects/contacts/search`: filters on `lastmodifieddate` (GTE/GT/LTE/LT/EQ),
 *   sorts, `limit` ≤ 200, `after`; at most `searchCap` (10,000) results per query, then 400.
 * - Bearer tokens checked with the OAuth emulator (401 EXPIRED_AUTHENTICATION when expired).
 * - `X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds` on every answer; 429 with
 *   `policyName: TEN_SECONDLY_ROLLING` over `perTenSeconds`, `DAILY` over `perDay`.
 * - `POST /crm/v3/objects/contacts/batch/archive` `{ inputs: [{ id }] }` (≤ 100): 204, unknown ids
 *   ignored; `POST /crm/v3/objects/contacts/gdpr-delete` `{ objectId, idProperty? }`: 204, 404 unknown.
 * - `GET /crm/v3/objects/contacts?archived=true&limit&after`: archived contacts (≤ 100 a page), with `archivedAt`.
 * - Email engagements: `POST /crm/v3/objects/emails/batch/create` `{ inputs: [{ properties,
 *   associations: [{ to: { id }, types: [{ associationCategory, associationTypeId }] }],
 *   objectWriteTraceId }] }`, ≤ 100 inputs; 201, or 207 with `errors[]` (context
 *   `objectWriteTraceId`) for inputs without `hs_timestamp`, with an association to a contact it
 *   does not hold or of another type than email→contact (198), or whose `coldcopy_email_id` is in
 *   `rejectIds`. A create is not idempotent: the same input twice is two emails.
 *   `POST /crm/v3/objects/emails/search` filters any property (`EQ`, `IN` with `values`).
 *   Both answer 400 (`PROPERTY_DOESNT_EXIST`, naming it) when they name a property the portal's
 *   emails do not have: HubSpot's own (`hs_timestamp`, `hs_email_*`, …) or a custom one created
 *   through `POST /crm/v3/properties/emails` (`{ name, label, type, fieldType, groupName }`: 201, 409
 *   when the portal has it); `GET /crm/v3/properties/emails/{name}`: 200, 404 unknown.
 * Contacts are changed "in HubSpot" with `edit` (or `POST /__emulator/contacts`).
 */
export interface HubspotContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

export interface HubspotEmail extends HubspotContact {
  /** associated contact ids (email → contact, type 198) */
  contacts: string[];
}

export interface HubspotEmulatorOptions {
  readonly oauth: OAuthEmulator;
  readonly perTenSeconds?: number;
  readonly perDay?: number;
  readonly searchPerSecond?: number;
  readonly searchCap?: number;
}

export interface HubspotEmulator extends HttpEmulator {
  readonly contacts: Map<string, HubspotContact>;
  /** idProperty values whose next upsert fails in a 207 (value: how many times) */
  readonly rejectIds: Map<string, number>;
  /** contacts archived through `batch/archive` (restorable in HubSpot for 90 days) */
  readonly archived: Map<string, HubspotContact & { archivedAt: string }>;
  /** ids removed for good through `gdpr-delete` */
  readonly privacyDeleted: Set<string>;
  /** email engagements logged through `emails/batch/create` */
  readonly emails: Map<string, HubspotEmail>;
  /** custom email properties by portal (created through `POST /crm/v3/properties/emails`), by name */
  readonly emailProperties: Map<string, Map<string, EmailPropertyDefinition>>;
  /** archives a contact "in HubSpot" (a user deleting it): listed by `?archived=true` */
  archive(id: string): void;
  /** changes a contact in "HubSpot" (by email), as a HubSpot user would */
  edit(email: string, properties: Record<string, string>): HubspotContact;
  byEmail(email: string): HubspotContact | undefined;
}

export interface EmailPropertyDefinition {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  hasUniqueValue: boolean;
  createdAt: string;
}

const UNIQUE = ['email', 'coldcopy_lead_id'];
/** HubSpot's own email engagement properties (the ones the emulator stores or is asked for) */
const EMAIL_DEFAULTS = new Set([
  'hs_object_id',
  'hs_createdate',
  'hs_lastmodifieddate',
  'hs_timestamp',
  'hs_email_direction',
  'hs_email_status',
  'hs_email_subject',
  'hs_email_text',
  'hs_email_html',
  'hs_email_headers',
  'hubspot_owner_id',
]);

export async function startHubspotEmulator(options: HubspotEmulatorOptions, port = 0): Promise<HubspotEmulator> {
  const contacts = new Map<string, HubspotContact>();
  const rejectIds = new Map<string, number>();
  const archived = new Map<string, HubspotContact & { archivedAt: string }>();
  const privacyDeleted = new Set<string>();
  const windows = new Map<string, { tenSecondly: RollingWindow; daily: RollingWindow; search: RollingWindow }>();
  let nextId = 1000;
  let lastStamp = 0;
  // strictly increasing modification times, like a single HubSpot shard would give
  const stamp = () => {
    lastStamp = Math.max(Date.now(), lastStamp + 1);
    return new Date(lastStamp).toISOString();
  };
  const emails = new Map<string, string>();
  const find = (prop: string, value: string) => {
    const v = value.trim().toLowerCase();
    if (prop === 'email') {
      const id = emails.get(v);
      return id === undefined ? undefined : contacts.get(id);
    }
    for (const c of contacts.values()) if ((c.properties[prop] ?? '').toLowerCase() === v) return c;
    return undefined;
  };
  const write = (c: HubspotContact | undefined, properties: Record<string, string>) => {
    const at = stamp();
    const contact = c ?? { id: String(nextId++), properties: { createdate: at }, createdAt: at, updatedAt: at };
    Object.assign(contact.properties, properties, { lastmodifieddate: at, hs_object_id: contact.id });
    if (contact.properties.email) {
      contact.properties.email = contact.properties.email.toLowerCase();
      emails.set(contact.properties.email, contact.id);
    }
    contact.updatedAt = at;
    contacts.set(contact.id, contact);
    return contact;
  };

  const limits = (account: string) => {
    let w = windows.get(account);
    if (!w) {
      w = {
        tenSecondly: new RollingWindow(options.perTenSeconds ?? 110, 10_000),
        daily: new RollingWindow(options.perDay ?? Number.MAX_SAFE_INTEGER, 86_400_000),
        search: new RollingWindow(options.searchPerSecond ?? 5, 1000),
      };
      windows.set(account, w);
    }
    return w;
  };

  const authed = (authorization: string | undefined, search: boolean, fn: (account: string) => Answer): Answer => {
    const account = options.oauth.check(authorization);
    if (account === undefined)
      return { status: 401, body: { status: 'error', category: 'INVALID_AUTHENTICATION', message: 'Authentication credentials not found' } };
    if (account === 'expired')
      return { status: 401, body: { status: 'error', category: 'EXPIRED_AUTHENTICATION', message: 'The OAuth token used to make this call expired' } };
    const w = limits(account);
    const now = Date.now();
    const headers = () => ({
      'x-hubspot-ratelimit-max': String(w.tenSecondly.max),
      'x-hubspot-ratelimit-remaining': String(w.tenSecondly.remaining(now)),
      'x-hubspot-ratelimit-interval-milliseconds': '10000',
    });
    const limited = (policyName: string) => ({
      status: 429,
      headers: headers(),
      body: {
        status: 'error',
        errorType: 'RATE_LIMIT',
        policyName,
        correlationId: `c-${now}`,
        message: `You have reached your ${policyName.toLowerCase()} limit.`,
      },
    });
    if (!w.daily.take(now)) return limited('DAILY');
    if (!w.tenSecondly.take(now)) return limited('TEN_SECONDLY_ROLLING');
    if (search && !w.search.take(now)) return limited('SECONDLY');
    const answer = fn(account);
    return { ...answer, headers: { ...headers(), ...answer.headers } };
  };

  const upsert = (body: unknown): Answer => {
    const inputs = (body as { inputs?: Array<{ id?: string; idProperty?: string; properties?: Record<string, string> }> })?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0)
      return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'inputs is required' } };
    if (inputs.length > 100) return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'Batch size limit is 100' } };
    const startedAt = new Date().toISOString();
    const results: Array<HubspotContact & { new: boolean; archived: boolean }> = [];
    const errors: Array<{ status: string; category: string; message: string; context: { ids: string[] } }> = [];
    for (const input of inputs) {
      const idProperty = input.idProperty ?? '';
      const id = String(input.id ?? '');
      if (!UNIQUE.includes(idProperty))
        return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `${idProperty} is not a unique property` } };
      const reject = rejectIds.get(id.toLowerCase());
      if (reject) {
        if (reject <= 1) rejectIds.delete(id.toLowerCase());
        else rejectIds.set(id.toLowerCase(), reject - 1);
        errors.push({ status: 'error', category: 'VALIDATION_ERROR', message: `Property values were not valid for ${id}`, context: { ids: [id] } });
        continue;
      }
      const props = { ...(input.properties ?? {}), [idProperty]: id };
      if (props.email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(props.email)) {
        errors.push({ status: 'error', category: 'VALIDATION_ERROR', message: 'Email address is invalid', context: { ids: [id] } });
        continue;
      }
      const existing = find(idProperty, id);
      const c = write(existing, props);
      results.push({ ...c, properties: { ...c.properties }, new: !existing, archived: false });
    }
    const completedAt = new Date().toISOString();
    return {
      status: errors.length ? 207 : 200,
      body: { status: 'COMPLETE', results, ...(errors.length ? { errors, numErrors: errors.length } : {}), startedAt, completedAt },
    };
  };

  const search = (records: Iterable<HubspotContact>, body: unknown): Answer => {
    const b = (body ?? {}) as {
      filterGroups?: Array<{ filters?: Array<{ propertyName: string; operator: string; value?: string; values?: string[] }> }>;
      sorts?: Array<{ propertyName: string; direction?: string }>;
      properties?: string[];
      limit?: number;
      after?: string;
    };
    const limit = b.limit ?? 10;
    if (limit > 200) return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'limit must be at most 200' } };
    const offset = Number(b.after ?? 0);
    const cap = options.searchCap ?? 10_000;
    if (offset >= cap) return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `paging past ${cap} results is not supported` } };
    const value = (c: HubspotContact, prop: string) =>
      prop === 'lastmodifieddate' || prop === 'createdate' ? Date.parse(c.properties[prop] ?? '') : (c.properties[prop] ?? '');
    const test = (c: HubspotContact, f: { propertyName: string; operator: string; value?: string; values?: string[] }) => {
      const v = value(c, f.propertyName);
      if (f.operator === 'IN') return (f.values ?? []).map(String).includes(String(v));
      const x = typeof v === 'number' ? Number(f.value) : String(f.value ?? '');
      switch (f.operator) {
        case 'GTE':
          return v >= x;
        case 'GT':
          return v > x;
        case 'LTE':
          return v <= x;
        case 'LT':
          return v < x;
        case 'EQ':
          return v === x;
        default:
          return false;
      }
    };
    const groups = b.filterGroups ?? [];
    let rows = [...records].filter((c) => groups.length === 0 || groups.some((g) => (g.filters ?? []).every((f) => test(c, f))));
    const sort = b.sorts?.[0];
    if (sort) {
      const dir = sort.direction === 'DESCENDING' ? -1 : 1;
      rows.sort((a, c) => {
        const x = value(a, sort.propertyName);
        const y = value(c, sort.propertyName);
        return (x < y ? -1 : x > y ? 1 : Number(a.id) - Number(c.id)) * dir;
      });
    }
    const total = rows.length;
    rows = rows.slice(offset, Math.min(offset + limit, cap));
    const wanted = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', ...(b.properties ?? [])]);
    const next = offset + rows.length;
    return {
      status: 200,
      body: {
        total,
        results: rows.map((c) => ({
          id: c.id,
          properties: Object.fromEntries([...wanted].map((p) => [p, c.properties[p] ?? null])),
          createdAt: c.createdAt,
          updatedAt: c.updatedAt,
          archived: false,
        })),
        ...(next < total && rows.length > 0 ? { paging: { next: { after: String(next) } } } : {}),
      },
    };
  };

  // archive (restorable, like HubSpot's 90 days) and GDPR delete (gone for good)
  const drop = (c: HubspotContact) => {
    contacts.delete(c.id);
    if (c.properties.email && emails.get(c.properties.email) === c.id) emails.delete(c.properties.email);
  };
  const archive = (body: unknown): Answer => {
    const inputs = (body as { inputs?: Array<{ id?: string }> })?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 100)
      return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'between 1 and 100 inputs' } };
    for (const { id } of inputs) {
      const c = contacts.get(String(id));
      if (!c) continue; // HubSpot answers 204 for ids it does not hold
      drop(c);
      archived.set(c.id, { ...c, archivedAt: stamp() });
    }
    return { status: 204 };
  };
  const gdprDelete = (body: unknown): Answer => {
    const b = (body ?? {}) as { objectId?: string; idProperty?: string };
    const c = b.idProperty ? find(b.idProperty, String(b.objectId ?? '')) : contacts.get(String(b.objectId ?? ''));
    if (!c) return { status: 404, body: { status: 'error', category: 'OBJECT_NOT_FOUND', message: 'resource not found' } };
    drop(c);
    privacyDeleted.add(c.id);
    return { status: 204 };
  };

  // email properties per portal: an unknown one is refused on create and search, like HubSpot does
  const emailProperties = new Map<string, Map<string, EmailPropertyDefinition>>();
  const customOf = (portal: string) => {
    let m = emailProperties.get(portal);
    if (!m) emailProperties.set(portal, (m = new Map<string, EmailPropertyDefinition>()));
    return m;
  };
  const unknownProperty = (portal: string, names: Iterable<string>): Answer | undefined => {
    for (const name of names) {
      if (EMAIL_DEFAULTS.has(name) || customOf(portal).has(name)) continue;
      const detail = { isValid: false, message: `Property "${name}" does not exist`, error: 'PROPERTY_DOESNT_EXIST', name };
      return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `Property values were not valid: ${JSON.stringify([detail])}` } };
    }
    return undefined;
  };
  const getEmailProperty = (portal: string, name: string): Answer => {
    const def = customOf(portal).get(name);
    if (def) return { status: 200, body: def };
    if (EMAIL_DEFAULTS.has(name)) return { status: 200, body: { name, hubspotDefined: true } };
    return { status: 404, body: { status: 'error', category: 'OBJECT_NOT_FOUND', message: `Unable to find property ${name} for object type emails` } };
  };
  const createEmailProperty = (portal: string, body: unknown): Answer => {
    const b = (body ?? {}) as Partial<Record<'name' | 'label' | 'type' | 'fieldType' | 'groupName', unknown>> & { hasUniqueValue?: unknown };
    const missing = (['name', 'label', 'type', 'fieldType', 'groupName'] as const).filter((k) => typeof b[k] !== 'string' || b[k] === '');
    if (missing.length) return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `${missing.join(', ')} required` } };
    const name = String(b.name);
    if (!/^[a-z][a-z0-9_]*$/.test(name))
      return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: `${name} is not a valid property name` } };
    if (EMAIL_DEFAULTS.has(name) || customOf(portal).has(name))
      return { status: 409, body: { status: 'error', category: 'OBJECT_ALREADY_EXISTS', message: `A property named '${name}' already exists` } };
    const def: EmailPropertyDefinition = {
      name,
      label: String(b.label),
      type: String(b.type),
      fieldType: String(b.fieldType),
      groupName: String(b.groupName),
      hasUniqueValue: b.hasUniqueValue === true,
      createdAt: new Date().toISOString(),
    };
    customOf(portal).set(name, def);
    return { status: 201, body: def };
  };
  const searchEmails = (portal: string, body: unknown): Answer => {
    const b = (body ?? {}) as { filterGroups?: Array<{ filters?: Array<{ propertyName?: string }> }>; sorts?: Array<{ propertyName?: string }> };
    const named = [
      ...(b.filterGroups ?? []).flatMap((g) => (g.filters ?? []).map((f) => String(f.propertyName))),
      ...(b.sorts ?? []).map((x) => String(x.propertyName)),
    ];
    return unknownProperty(portal, named) ?? search(engagements.values(), body);
  };

  // email engagements: batch create (not idempotent), associations inline
  const engagements = new Map<string, HubspotEmail>();
  const createEmails = (portal: string, body: unknown): Answer => {
    type Input = {
      properties?: Record<string, string>;
      associations?: Array<{ to?: { id?: string }; types?: Array<{ associationCategory?: string; associationTypeId?: number }> }>;
      objectWriteTraceId?: string;
    };
    const inputs = (body as { inputs?: Input[] })?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0)
      return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'inputs is required' } };
    if (inputs.length > 100) return { status: 400, body: { status: 'error', category: 'VALIDATION_ERROR', message: 'Batch size limit is 100' } };
    // a property the portal does not have fails the whole batch
    const refused = unknownProperty(
      portal,
      inputs.flatMap((i) => Object.keys(i.properties ?? {})),
    );
    if (refused) return refused;
    const startedAt = new Date().toISOString();
    const results: HubspotEmail[] = [];
    const errors: Array<{ status: string; category: string; message: string; context: { objectWriteTraceId: string[] } }> = [];
    for (const input of inputs) {
      const trace = String(input.objectWriteTraceId ?? '');
      const refuse = (category: string, message: string) =>
        errors.push({ status: 'error', category, message, context: { objectWriteTraceId: trace ? [trace] : [] } });
      const props = input.properties ?? {};
      const key = (props.coldcopy_email_id ?? '').toLowerCase();
      const reject = key ? rejectIds.get(key) : undefined;
      if (reject) {
        if (reject <= 1) rejectIds.delete(key);
        else rejectIds.set(key, reject - 1);
        refuse('VALIDATION_ERROR', `Property values were not valid for ${trace}`);
        continue;
      }
      if (!props.hs_timestamp || Number.isNaN(Date.parse(props.hs_timestamp))) {
        refuse('VALIDATION_ERROR', 'hs_timestamp is required');
        continue;
      }
      const to: string[] = [];
      let bad: string | undefined;
      for (const a of input.associations ?? []) {
        const id = String(a.to?.id ?? '');
        const typed = (a.types ?? []).some((t) => t.associationCategory === 'HUBSPOT_DEFINED' && t.associationTypeId === 198);
        if (!typed) bad = 'INVALID_ASSOCIATION_TYPE';
        else if (!contacts.has(id)) bad = 'OBJECT_NOT_FOUND';
        else to.push(id);
      }
      if (bad) {
        refuse(bad, bad === 'OBJECT_NOT_FOUND' ? 'an associated contact does not exist' : 'emails associate to contacts with type 198');
        continue;
      }
      const at = stamp();
      const email: HubspotEmail = {
        id: String(nextId++),
        properties: { ...props, hs_createdate: at, hs_lastmodifieddate: at },
        createdAt: at,
        updatedAt: at,
        contacts: to,
      };
      email.properties.hs_object_id = email.id;
      engagements.set(email.id, email);
      results.push({ ...email, properties: { ...email.properties } });
    }
    const completedAt = new Date().toISOString();
    return {
      status: errors.length ? 207 : 201,
      body: { status: 'COMPLETE', results, ...(errors.length ? { errors, numErrors: errors.length } : {}), startedAt, completedAt },
    };
  };
  const listArchived = (query: URLSearchParams): Answer => {
    if (query.get('archived') !== 'true') return { status: 200, body: { results: [] } };
    const limit = Math.min(Number(query.get('limit') ?? 10), 100);
    const offset = Number(query.get('after') ?? 0);
    const all = [...archived.values()].sort((a, c) => Number(a.id) - Number(c.id));
    const page = all.slice(offset, offset + limit);
    const next = offset + page.length;
    return {
      status: 200,
      body: {
        results: page.map((c) => ({
          id: c.id,
          properties: { hs_object_id: c.id },
          createdAt: c.createdAt,
          updatedAt: c.updatedAt,
          archived: true,
          archivedAt: c.archivedAt,
        })),
        ...(next < all.length ? { paging: { next: { after: String(next) } } } : {}),
      },
    };
  };

  const emulator = new HttpEmulator(
    'hubspot',
    (req) => {
      if (req.method === 'POST' && req.path === '/crm/v3/objects/contacts/batch/archive')
        return { endpoint: 'batch-archive', answer: () => authed(req.headers.authorization, false, () => archive(req.body)) };
      if (req.method === 'POST' && req.path === '/crm/v3/objects/contacts/gdpr-delete')
        return { endpoint: 'gdpr-delete', answer: () => authed(req.headers.authorization, false, () => gdprDelete(req.body)) };
      if (req.method === 'POST' && req.path === '/crm/v3/objects/contacts/batch/upsert')
        return { endpoint: 'batch-upsert', answer: () => authed(req.headers.authorization, false, () => upsert(req.body)) };
      // HubSpot serves its OAuth v3 token endpoint on the API host
      if (req.method === 'POST' && req.path === '/oauth/v3/token') return { endpoint: 'token', answer: () => options.oauth.tokenAnswer(req.body) };
      if (req.method === 'POST' && req.path === '/crm/v3/objects/contacts/search')
        return { endpoint: 'search', answer: () => authed(req.headers.authorization, true, () => search(contacts.values(), req.body)) };
      if (req.method === 'POST' && req.path === '/crm/v3/objects/emails/batch/create')
        return { endpoint: 'emails-create', answer: () => authed(req.headers.authorization, false, (portal) => createEmails(portal, req.body)) };
      if (req.method === 'POST' && req.path === '/crm/v3/objects/emails/search')
        return { endpoint: 'emails-search', answer: () => authed(req.headers.authorization, true, (portal) => searchEmails(portal, req.body)) };
      if (req.method === 'POST' && req.path === '/crm/v3/properties/emails')
        return { endpoint: 'email-property-create', answer: () => authed(req.headers.authorization, false, (portal) => createEmailProperty(portal, req.body)) };
      const property = req.method === 'GET' ? /^\/crm\/v3\/properties\/emails\/([^/]+)$/.exec(req.path) : null;
      if (property)
        return {
          endpoint: 'email-property-get',
          answer: () => authed(req.headers.authorization, false, (portal) => getEmailProperty(portal, decodeURIComponent(property[1]!))),
        };
      if (req.method === 'GET' && req.path === '/crm/v3/objects/contacts')
        return { endpoint: 'contacts-list', answer: () => authed(req.headers.authorization, false, () => listArchived(req.query)) };
      return undefined;
    },
    (method, path, body) => {
      const granted = grantControl(options.oauth, method, path, body);
      if (granted) return granted;
      if (path === '/__emulator/contacts' && method === 'GET') return { status: 200, body: { contacts: [...contacts.values()] } };
      if (path === '/__emulator/contacts' && method === 'POST') {
        const b = body as { email?: string; properties?: Record<string, string> };
        if (!b?.email) return { status: 400, body: { error: 'email is required' } };
        return { status: 200, body: write(find('email', b.email), { ...(b.properties ?? {}), email: b.email }) };
      }
      return undefined;
    },
  ) as HubspotEmulator;
  Object.assign(emulator, {
    contacts,
    rejectIds,
    archived,
    privacyDeleted,
    emails: engagements,
    emailProperties,
    archive: (id: string) => archive({ inputs: [{ id }] }),
    edit: (email: string, properties: Record<string, string>) => write(find('email', email), { ...properties, email }),
    byEmail: (email: string) => find('email', email),
  });
  await emulator.listen(port);
  return emulator;
}
