import { randomBytes } from 'node:crypto';
import { type Answer, HttpEmulator } from './http-emulator.js';
import type { OAuthEmulator } from './oauth-emulator.js';

/**
 * Salesforce REST for Contacts as the sync uses it (providers.md §8), on the wire, under
 * `/services/data/v<version>`:
 * - `PATCH /composite/sobjects/Contact/<ExternalIdField>` `{ allOrNone, records }` (≤ 200): ordered
 *   `UpsertResult[]` `{ id, success, created, errors }`; one record per external id value, ever.
 * - `GET /query?q=` for the sync's SOQL: `SELECT <fields> FROM Contact [WHERE SystemModstamp > X OR
 *   (SystemModstamp = X AND Id > 'Y') | WHERE SystemModstamp >= X] ORDER BY SystemModstamp, Id LIMIT n`.
 * - `GET /sobjects/Contact/deleted/?start=&end=`: `{ deletedRecords: [{ id, deletedDate }], earliestDateAvailable, latestDateCovered }`.
 * - `Sforce-Limit-Info: api-usage=N/M` on every answer; over `dailyLimit` 403
 *   `[{ errorCode: 'REQUEST_LIMIT_EXCEEDED' }]`; bearer tokens checked with the OAuth emulator.
 * - `DELETE /composite/sobjects?ids=&allOrNone=false` (≤ 200): `{ id, success, errors }` per id, a
 *   deleted or unknown id `ENTITY_IS_DELETED`; deleted records show in the `deleted` window.
 * `delayMs` slows every API answer (kill tests); records change "in Salesforce" through `edit`/`remove`.
 */
export interface SalesforceRecord {
  Id: string;
  SystemModstamp: string;
  [field: string]: string | null;
}

export interface SalesforceEmulator extends HttpEmulator {
  readonly records: Map<string, SalesforceRecord>;
  readonly deleted: Array<{ id: string; deletedDate: string }>;
  edit(externalId: string, fields: Record<string, string>): SalesforceRecord;
  remove(id: string): void;
  /** API calls counted against the daily limit */
  usage: number;
  delayMs: number;
}

export async function startSalesforceEmulator(
  options: { oauth: OAuthEmulator; externalIdField?: string; dailyLimit?: number; delayMs?: number },
  port = 0,
): Promise<SalesforceEmulator> {
  const extField = options.externalIdField ?? 'ColdCopy_Id__c';
  const records = new Map<string, SalesforceRecord>();
  const byExt = new Map<string, string>();
  const deleted: Array<{ id: string; deletedDate: string }> = [];
  // second precision, as SOQL datetime literals have: many records share one SystemModstamp, and the
  // sync's keyset (SystemModstamp, Id) must page through them
  const stamp = () => new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('Z', '+0000');
  const newId = () => `003${randomBytes(8).toString('hex').slice(0, 15)}`.slice(0, 18).padEnd(18, 'A');
  const write = (ext: string, fields: Record<string, unknown>) => {
    const existing = byExt.get(ext);
    const rec: SalesforceRecord = existing ? records.get(existing)! : { Id: newId(), SystemModstamp: '' };
    for (const [k, v] of Object.entries(fields)) if (k !== 'attributes' && k !== 'Id') rec[k] = v === null || v === undefined ? null : String(v);
    rec[extField] = ext;
    rec.SystemModstamp = stamp();
    records.set(rec.Id, rec);
    byExt.set(ext, rec.Id);
    return { rec, created: !existing };
  };

  const limitHeader = () => ({ 'sforce-limit-info': `api-usage=${emulator.usage}/${options.dailyLimit ?? 100_000}` });
  const api = (authorization: string | undefined, fn: () => Answer): Answer | Promise<Answer> => {
    const account = options.oauth.check(authorization);
    if (account === undefined || account === 'expired')
      return { status: 401, body: [{ message: 'Session expired or invalid', errorCode: 'INVALID_SESSION_ID' }] };
    if (emulator.usage >= (options.dailyLimit ?? 100_000))
      return { status: 403, headers: limitHeader(), body: [{ message: 'TotalRequests Limit exceeded.', errorCode: 'REQUEST_LIMIT_EXCEEDED' }] };
    emulator.usage++;
    const answer = fn();
    const out = { ...answer, headers: { ...limitHeader(), ...answer.headers } };
    return emulator.delayMs > 0 ? new Promise((r) => setTimeout(() => r(out), emulator.delayMs)) : out;
  };

  const upsert = (field: string, body: unknown): Answer => {
    if (field !== extField) return { status: 400, body: [{ errorCode: 'INVALID_FIELD', message: `${field} is not an external id field` }] };
    const recs = (body as { records?: Array<Record<string, unknown>> })?.records;
    if (!Array.isArray(recs) || recs.length === 0 || recs.length > 200)
      return { status: 400, body: [{ errorCode: 'INVALID_BATCH_SIZE', message: 'between 1 and 200 records' }] };
    return {
      status: 200,
      body: recs.map((r) => {
        const ext = String(r[extField] ?? '');
        if (!ext) return { success: false, errors: [{ statusCode: 'MISSING_ARGUMENT', message: `${extField} not specified`, fields: [extField] }] };
        if (r.Email !== undefined && r.Email !== null && !/^[^@\s]+@[^@\s]+$/.test(String(r.Email)))
          return { success: false, errors: [{ statusCode: 'INVALID_EMAIL_ADDRESS', message: 'Email: invalid email address', fields: ['Email'] }] };
        const { rec, created } = write(ext, r);
        return { id: rec.Id, success: true, created, errors: [] };
      }),
    };
  };

  const query = (soql: string): Answer => {
    const m = /^SELECT (.+) FROM Contact(?: WHERE (.+?))? ORDER BY SystemModstamp(?: ASC)?, Id(?: ASC)? LIMIT (\d+)$/i.exec(soql.trim());
    if (!m) return { status: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: 'the emulator understands the sync query only' }] };
    const fields = m[1]!.split(',').map((f) => f.trim());
    const where = m[2];
    let filter = (_r: SalesforceRecord) => true;
    if (where) {
      const keyset = /^SystemModstamp > (\S+) OR \(SystemModstamp = (\S+) AND Id > '([A-Za-z0-9]+)'\)$/.exec(where);
      const since = /^SystemModstamp >= (\S+)$/.exec(where);
      if (keyset) {
        const t = Date.parse(keyset[1]!);
        filter = (r) => Date.parse(r.SystemModstamp) > t || (Date.parse(r.SystemModstamp) === t && r.Id > keyset[3]!);
      } else if (since) {
        const t = Date.parse(since[1]!);
        filter = (r) => Date.parse(r.SystemModstamp) >= t;
      } else return { status: 400, body: [{ errorCode: 'MALFORMED_QUERY', message: `unsupported WHERE ${where}` }] };
    }
    const rows = [...records.values()]
      .filter(filter)
      .sort((a, b) => Date.parse(a.SystemModstamp) - Date.parse(b.SystemModstamp) || (a.Id < b.Id ? -1 : 1))
      .slice(0, Number(m[3]));
    return {
      status: 200,
      body: {
        totalSize: rows.length,
        done: true,
        records: rows.map((r) => ({
          attributes: { type: 'Contact', url: `/services/data/v62.0/sobjects/Contact/${r.Id}` },
          ...Object.fromEntries(fields.map((f) => [f, r[f] ?? null])),
        })),
      },
    };
  };

  const emulator = new HttpEmulator(
    'salesforce',
    (req) => {
      // the login host's token endpoint, on the same port
      if (req.method === 'POST' && req.path === '/services/oauth2/token') return { endpoint: 'token', answer: () => options.oauth.tokenAnswer(req.body) };
      const m = /^\/services\/data\/v(\d+\.\d)(\/.*)$/.exec(req.path);
      if (!m) return undefined;
      const [, , rest] = m;
      const auth = req.headers.authorization;
      const up = /^\/composite\/sobjects\/Contact\/([A-Za-z0-9_]+)$/.exec(rest!);
      if (req.method === 'DELETE' && rest === '/composite/sobjects') {
        return {
          endpoint: 'destroy',
          answer: () =>
            api(auth, () => {
              const ids = (req.query.get('ids') ?? '').split(',').filter(Boolean);
              if (ids.length === 0 || ids.length > 200) return { status: 400, body: [{ errorCode: 'INVALID_BATCH_SIZE', message: 'between 1 and 200 ids' }] };
              return {
                status: 200,
                body: ids.map((id) => {
                  if (!records.has(id)) return { id, success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] };
                  emulator.remove(id);
                  return { id, success: true, errors: [] };
                }),
              };
            }),
        };
      }
      if (req.method === 'PATCH' && up) return { endpoint: 'upsert', answer: () => api(auth, () => upsert(up[1]!, req.body)) };
      if (req.method === 'GET' && rest === '/query') return { endpoint: 'query', answer: () => api(auth, () => query(req.query.get('q') ?? '')) };
      if (req.method === 'GET' && (rest === '/sobjects/Contact/deleted/' || rest === '/sobjects/Contact/deleted')) {
        return {
          endpoint: 'deleted',
          answer: () =>
            api(auth, () => {
              const start = Date.parse(req.query.get('start') ?? '');
              const end = Date.parse(req.query.get('end') ?? '');
              const rows = deleted.filter((d) => Date.parse(d.deletedDate) >= start && Date.parse(d.deletedDate) <= end);
              return {
                status: 200,
                body: {
                  deletedRecords: rows,
                  earliestDateAvailable: new Date(0).toISOString(),
                  latestDateCovered: new Date(Math.min(end, Date.now())).toISOString(),
                },
              };
            }),
        };
      }
      return undefined;
    },
    (method, path, body) => {
      const account = (body as { account?: unknown } | undefined)?.account;
      if (path === '/__emulator/grant' && method === 'POST')
        return typeof account === 'string' && account
          ? { status: 200, body: options.oauth.grant(account) }
          : { status: 400, body: { error: 'account is required' } };
      if (path === '/__emulator/records' && method === 'GET') return { status: 200, body: { records: [...records.values()] } };
      return undefined;
    },
  ) as SalesforceEmulator;
  Object.assign(emulator, {
    records,
    deleted,
    usage: 0,
    delayMs: options.delayMs ?? 0,
    edit: (ext: string, fields: Record<string, string>) => write(ext, fields).rec,
    remove(id: string) {
      const rec = records.get(id);
      if (!rec) return;
      records.delete(id);
      byExt.delete(String(rec[extField]));
      deleted.push({ id, deletedDate: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString() });
    },
  });
  await emulator.listen(port);
  return emulator;
}
