import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../definitions/define-job.js';
import { ConfigError, FieldDecryptionError, isPermanentError, JobSignatureError } from '../definitions/errors.js';
import { decryptField, JobSecurity, jobSecurityFromEnv, parseEnvelope, SIGNATURE_OPTION } from './job-security.js';
import { repeatKeyOf, repeatRunIdPrefix } from './job-binding.js';
import { parseKeyRing } from './security-keys.js';

const K_NEW = 'k2:HyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fg=';
const K_OLD = 'k1:PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBc=';
const E1 = 'e1:XWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY=';
const E_OTHER = 'e1:fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlU=';
const WS = '7b0c8a9e-3c1f-4d7b-9a43-2f1c0e5d9b11';

const connect = defineJob({
  name: 'test-connect',
  queue: 'integration',
  description: 'carries a token (test only)',
  scope: 'workspace',
  payload: { accessToken: z.string().min(5), refreshToken: z.string().optional(), account: z.string() },
  sensitive: ['accessToken', 'refreshToken'],
});
const plain = defineJob({ name: 'test-plain', queue: 'integration', description: 'no secrets', scope: 'global', payload: { n: z.number() } });

const security = (o: ConstructorParameters<typeof JobSecurity>[0] = {}) => new JobSecurity({ signingKeys: `${K_NEW},${K_OLD}`, encryptionKeys: E1, ...o });

/** What Bull does to data between producer and worker. */
const roundTrip = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('key rings', () => {
  it('reads the first key as current and every key for verification', () => {
    const ring = parseKeyRing('JOB_SIGNING_KEYS', ` ${K_NEW} , ${K_OLD} `, { minBytes: 32 });
    expect(ring.currentId).toBe('k2');
    expect([...ring.keys.keys()]).toEqual(['k2', 'k1']);
    expect(ring.current).toHaveLength(32);
  });

  it('names the variable and key id in errors, never the secret', () => {
    const secret = 'c2hvcnQ='; // "short"
    const cases: Array<[string, RegExp]> = [
      ['', /JOB_SIGNING_KEYS: no keys/],
      ['nocolon', /entry 1 is not "kid:base64key"/],
      [`bad id!:${secret}`, /key id must be/],
      [`k1:${secret}`, /key id "k1"\): the key must decode to at least 32 bytes, got 5/],
      [`${K_OLD},${K_OLD}`, /duplicate key id "k1"/],
      ['k1:not base64 at all', /not base64/],
    ];
    for (const [raw, message] of cases) {
      let err: unknown;
      try {
        parseKeyRing('JOB_SIGNING_KEYS', raw, { minBytes: 32 });
      } catch (e) {
        err = e;
      }
      expect(err, raw).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain(secret);
    }
    expect(() => parseKeyRing('JOB_ENCRYPTION_KEYS', `x:${Buffer.alloc(48, 7).toString('base64')}`, { exactBytes: 32 })).toThrow(/exactly 32 bytes, got 48/);
  });
});

describe('signing', () => {
  /** a job as Bull gives it back to the worker: its id and stored options (Bull's defaults filled in) */
  const asStored = (opts: Record<string, unknown>) => {
    const o = roundTrip(opts) as Record<string, unknown> & { jobId?: string };
    return { id: o.jobId, opts: { attempts: 1, delay: 0, ...o } };
  };
  const reasonOf = (f: () => void) => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(JobSignatureError);
      expect(isPermanentError(err)).toBe(true);
      return (err as JobSignatureError).reason;
    }
    return 'accepted';
  };
  const OPTS = { jobId: 'test-plain.a1', attempts: 3, priority: 2, delay: 60_000 };

  it('verifies what it signed after the JSON round trip through Redis', () => {
    const s = security();
    const data = { workspaceId: WS, n: 1.5, nested: { b: [1, 'x'], a: null }, s: 'é\u2028"' };
    const sig = s.sign('test-plain', data, OPTS)!;
    expect(sig).toMatch(/^v2\.k2\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(() => s.verify('test-plain', roundTrip(data), sig, asStored(OPTS))).not.toThrow();
    // Bull's defaults (attempts 1, delay 0) on the worker side equal absent options on the producer side
    const bare = { jobId: 'test-plain.a2' };
    expect(() => s.verify('test-plain', data, s.sign('test-plain', data, bare), asStored(bare))).not.toThrow();
  });

  it('rejects a missing, malformed, outdated, unknown-key or mismatching signature as a permanent error', () => {
    const s = security();
    const data = { workspaceId: WS, n: 1 };
    const sig = s.sign('test-plain', data, OPTS)!;
    const job = asStored(OPTS);
    expect(reasonOf(() => s.verify('test-plain', data, undefined, job))).toBe('missing');
    expect(reasonOf(() => s.verify('test-plain', data, 'v3.k2.1.x', job))).toBe('malformed');
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(/^v2\./, 'v1.'), job))).toBe('outdated');
    for (const bad of [
      'v2',
      'v2.k2',
      'v2.k2.1',
      'v2.k2.x.mac',
      'v2.k2.1.mac.extra',
      'v2..1.mac',
      'xv2.k2.1.mac',
      `${sig}.`,
      'v2.k2..mac',
      'v2.k2.1a.mac',
      'v2.k2.-1.mac',
    ]) {
      expect(
        reasonOf(() => s.verify('test-plain', data, bad, job)),
        bad,
      ).toMatch(/^(malformed|unknown-key)$/);
    }
    const mac = sig.slice(sig.lastIndexOf('.') + 1);
    const flipped = `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(mac, flipped), job))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(mac, mac.slice(1)), job))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace('.k2.', '.k9.'), job))).toBe('unknown-key');
    // key ids that start like the current one (k2) or that it starts with
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace('.k2.', '.k.'), job))).toBe('unknown-key');
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace('.k2.', '.k22.'), job))).toBe('unknown-key');
    // a timestamp of 17 digits is malformed; 16 is the most accepted (then the MAC decides)
    const ts = sig.split('.')[2]!;
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(`.${ts}.`, `.${'1'.repeat(17)}.`), job))).toBe('malformed');
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(`.${ts}.`, `.${'1'.repeat(16)}.`), job))).toBe('mismatch');
    // the same time written with a leading zero is not the text that was signed
    expect(reasonOf(() => s.verify('test-plain', data, sig.replace(`.${ts}.`, `.0${ts}.`), job))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', { ...data, n: 2 }, sig, job))).toBe('mismatch');
    expect(reasonOf(() => s.verify('other-job', data, sig, job))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', { ...data, workspaceId: 'another' }, sig, job))).toBe('mismatch');
    expect(
      reasonOf(() =>
        s.verify(
          'test-plain',
          data,
          sig.replace(/\.(\d+)\./, (_, t: string) => `.${Number(t) + 1}.`),
          job,
        ),
      ),
    ).toBe('mismatch');
  });

  it('binds the job id and the options that change behaviour: a copy under another id or with other options is refused', () => {
    const s = security();
    const data = { workspaceId: WS, n: 1 };
    const sig = s.sign('test-plain', data, OPTS)!;
    const stored = asStored(OPTS);
    expect(reasonOf(() => s.verify('test-plain', data, sig, stored))).toBe('accepted');
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...stored, id: 'test-plain.copy' }))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...stored, id: undefined }))).toBe('mismatch');
    for (const change of [{ attempts: 25 }, { delay: 0 }, { delay: 60_001 }, { priority: 1 }, { repeat: { every: 1000 } }]) {
      expect(
        reasonOf(() => s.verify('test-plain', data, sig, { ...stored, opts: { ...stored.opts, ...change } })),
        JSON.stringify(change),
      ).toBe('mismatch');
    }
    // options a signature does not cover (retention, a hint for the dashboard) may differ
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...stored, opts: { ...stored.opts, removeOnComplete: 5 } }))).toBe('accepted');
  });

  it("a batch's signer (enqueueBulk) signs each job as sign() does, bound to its own id, with one timestamp for the batch", () => {
    let clock = 1_765_000_000_000;
    const s = security({ now: () => clock++ });
    const signer = s.signer()!;
    const jobs = [1, 2, 3].map((n) => {
      const opts: Record<string, unknown> = { attempts: 3 };
      const data = s.protect(plain, { workspaceId: WS, n }, opts, signer);
      return { data, opts };
    });
    const stamps = jobs.map((j) => String(j.opts[SIGNATURE_OPTION]).split('.')[2]);
    expect(new Set(stamps)).toEqual(new Set(['1765000000000']));
    for (const j of jobs) expect(() => s.admit(plain, { id: j.opts.jobId as string, data: roundTrip(j.data), opts: asStored(j.opts).opts })).not.toThrow();
    // the same text as sign() at that time, and still bound to the job's own id
    clock = 1_765_000_000_000;
    expect(jobs[0]!.opts[SIGNATURE_OPTION]).toBe(s.sign('test-plain', jobs[0]!.data, jobs[0]!.opts));
    expect(reasonOf(() => s.admit(plain, { id: jobs[1]!.opts.jobId as string, data: jobs[0]!.data, opts: asStored(jobs[0]!.opts).opts }))).toBe('mismatch');
    expect(security({ signing: 'disabled' }).signer()).toBeUndefined();
  });

  it('gives every protected job an id so that it can be bound, and keeps an idempotency id', () => {
    const s = security();
    const a: Record<string, unknown> = { attempts: 2 };
    const b: Record<string, unknown> = { attempts: 2 };
    s.protect(plain, { n: 1 }, a);
    s.protect(plain, { n: 1 }, b);
    expect(a.jobId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.jobId).not.toBe(a.jobId);
    const keyed: Record<string, unknown> = { jobId: 'test-plain.k' };
    s.protect(plain, { n: 1 }, keyed);
    expect(keyed.jobId).toBe('test-plain.k');
    expect(() => s.admit(plain, { id: 'test-plain.k', data: { n: 1 }, opts: asStored(keyed).opts })).not.toThrow();
  });

  it('binds a schedule run to its schedule: any run id of that schedule, no other id', () => {
    const s = security();
    const data = { n: 1 };
    const opts = { jobId: 'sched.nightly.0123456789ab', attempts: 3, priority: 5, repeat: { cron: '0 2 * * *', tz: 'UTC' } };
    const sig = s.sign('test-plain', data, opts)!;
    // what Bull stores for a run (repeatable.js): repeat.jobId copied, a run id, a computed delay
    const repeat = { ...opts.repeat, jobId: opts.jobId, count: 4, key: 'x' };
    const prefix = repeatRunIdPrefix('test-plain', opts.jobId, repeatKeyOf('test-plain', repeat, opts.jobId));
    const run = { id: `${prefix}1765000800000`, opts: { attempts: 3, priority: 5, delay: 3_456, repeat, jobId: `${prefix}1765000800000` } };
    expect(reasonOf(() => s.verify('test-plain', data, sig, run))).toBe('accepted');
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...run, id: 'copied-run' }))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...run, opts: { ...run.opts, attempts: 9 } }))).toBe('mismatch');
    expect(reasonOf(() => s.verify('test-plain', data, sig, { ...run, opts: { ...run.opts, repeat: { ...repeat, cron: '* * * * *' } } }))).toBe('mismatch');
    // the schedule's signature does not make a plain job with the same id
    expect(reasonOf(() => s.verify('test-plain', data, sig, { id: opts.jobId, opts: { attempts: 3, priority: 5, delay: 0 } }))).toBe('mismatch');
  });

  it('verifies jobs signed with the previous key after rotation', () => {
    const before = new JobSecurity({ signingKeys: K_OLD });
    const after = new JobSecurity({ signingKeys: `${K_NEW},${K_OLD}` });
    const sig = before.sign('test-plain', { n: 1 }, OPTS)!;
    expect(sig).toMatch(/^v2\.k1\./);
    expect(() => after.verify('test-plain', { n: 1 }, sig, asStored(OPTS))).not.toThrow();
    expect(after.sign('test-plain', { n: 1 }, OPTS)).toMatch(/^v2\.k2\./);
    // once k1 is dropped, its jobs no longer verify
    expect(() => new JobSecurity({ signingKeys: K_NEW }).verify('test-plain', { n: 1 }, sig, asStored(OPTS))).toThrow(JobSignatureError);
  });

  it('keeps the wire format: signatures made by earlier releases verify, and the same job is signed the same way', () => {
    // made by the code of main at 13de1fc (createHmac over the v2 signed text), keys K_NEW and K_OLD
    const data = { workspaceId: WS, text: 'Grüße, 世界 ✓ 😀 "quoted" \\ back', n: 42, nested: { list: [1, 2.5, null, true] }, long: 'x'.repeat(300) };
    const opts = { jobId: 'test-plain.a1', attempts: 3, priority: 2, delay: 60_000 };
    const schedule = { repeat: { cron: '0 * * * *', tz: 'Europe/Berlin' }, jobId: 'sched-1', attempts: 2 };
    const signed = [
      ['v2.k2.1765000000000.146yXhGCJ-uRfqoEnsVTFqD8n04tzWitXqcwD9VTRzs', data, opts],
      ['v2.k1.1765000000000.xes87nbb_nHnoeYkvQ4KM7Y62Bv7YXzw-DEUtoUUF9Q', data, opts],
      ['v2.k2.1765000000000.k2e8Do5iPOnJaFX25OE9-p5IgRjbruJGXaxPOaKI-LI', { n: 1 }, schedule],
    ] as const;
    const s = security({ now: () => 1_765_000_000_000 });
    for (const [sig, d, o] of signed) {
      if (sig.startsWith('v2.k2.')) expect(s.sign('test-plain', d, o)).toBe(sig);
      if (o === opts) expect(reasonOf(() => s.verify('test-plain', roundTrip(d), sig, asStored(o)))).toBe('accepted');
    }
    expect(new JobSecurity({ signingKeys: K_OLD, now: () => 1_765_000_000_000 }).sign('test-plain', data, opts)).toBe(signed[1][0]);
  });

  it('signs with HMAC-SHA256 over the documented text, for texts of any length and any characters, and keys of any length', () => {
    const pieces = ['a', 'é', '世界', '😀', '\u2028', '"', '\\', '\ud800', 'x'.repeat(61)];
    // 32 bytes, one SHA-256 block, and longer keys (hashed first, RFC 2104)
    for (const size of [32, 64, 65, 100]) {
      const key = Buffer.from(Array.from({ length: size }, (_, i) => (i * 37 + size) % 256));
      const s = new JobSecurity({ signingKeys: `kx:${key.toString('base64')}`, now: () => 1_765_000_000_000 });
      for (let i = 0; i < 300; i++) {
        // from a few bytes to several kilobytes, around the 64-byte block
        const text = Array.from({ length: (i * 7) % 97 }, (_, k) => pieces[(i + k) % pieces.length])
          .join('')
          .repeat(1 + (i % 5) * (i % 3));
        const data = { workspaceId: WS, text };
        const opts = { jobId: `test-plain.${i}`, attempts: 1 + (i % 3) };
        const signedText = `v2\ntest-plain\n${WS}\n1765000000000\njob ${opts.jobId} ${opts.attempts} 0 0\n${JSON.stringify(data)}`;
        const expected = `v2.kx.1765000000000.${createHmac('sha256', key).update(signedText).digest('base64url')}`;
        expect(s.sign('test-plain', data, opts)).toBe(expected);
        expect(reasonOf(() => s.verify('test-plain', roundTrip(data), expected, asStored(opts)))).toBe('accepted');
      }
    }
  });

  it('checks the data text as stored (storedData) when the job carries it, not a re-serialisation', () => {
    const s = security();
    const data = { workspaceId: WS, n: 1 };
    const opts: Record<string, unknown> = { jobId: 'test-plain.stored' };
    const signature = s.sign('test-plain', data, opts);
    const stored = JSON.stringify(data);
    expect(reasonOf(() => s.verify('test-plain', JSON.parse(stored), signature, { ...asStored(opts), storedData: stored }))).toBe('accepted');
    // the same value under another text: not what was signed
    expect(reasonOf(() => s.verify('test-plain', data, signature, { ...asStored(opts), storedData: ` ${stored}` }))).toBe('mismatch');
  });

  it('unsigned mode signs nothing and accepts everything; otherwise keys are required', () => {
    const unsigned = new JobSecurity({ signing: 'disabled' });
    expect(unsigned.sign('x', {}, {})).toBeUndefined();
    expect(() => unsigned.verify('x', {}, undefined, { opts: {} })).not.toThrow();
    expect(() => new JobSecurity({})).toThrow(/JOB_SIGNING_KEYS is not set/);
  });
});

describe('encrypted fields', () => {
  it('encrypts sensitive fields into envelopes that decrypt back only for the same job and workspace', () => {
    const s = security();
    const payload = { workspaceId: WS, accessToken: 'ya29.secret-token', account: 'a@b.c' };
    const stored = s.seal(connect, payload);
    expect(stored).not.toBe(payload);
    expect(payload.accessToken).toBe('ya29.secret-token'); // input untouched
    expect(stored.accessToken).toMatch(/^enc:v1:e1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(JSON.stringify(stored)).not.toContain('secret-token');
    expect(stored.refreshToken).toBeUndefined();
    expect(stored.account).toBe('a@b.c');
    expect(s.open(connect, roundTrip(stored))).toEqual(payload);
    // a fresh IV each time
    expect(s.seal(connect, payload).accessToken).not.toBe(stored.accessToken);

    const env = parseEnvelope(stored.accessToken as string)!;
    expect(env.kid).toBe('e1');
    expect(env.iv).toHaveLength(12);
    expect(env.tag).toHaveLength(16);
    expect(parseEnvelope('enc:v1:e1:short')).toBeUndefined();
    expect(parseEnvelope('plain')).toBeUndefined();
  });

  it('fails permanently on a wrong key, tampered ciphertext, a moved value or clear text', () => {
    const s = security();
    const stored = s.seal(connect, { workspaceId: WS, accessToken: 'ya29.secret-token', account: 'x' });
    const token = stored.accessToken as string;
    const openWith = (sec: JobSecurity, data: Record<string, unknown>) => () => sec.open(connect, data);
    expect(openWith(security({ encryptionKeys: E_OTHER }), stored)).toThrow(/authentication failed/);
    const parts = token.split(':');
    const ct = Buffer.from(parts[5]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[5] = ct.toString('base64url');
    expect(openWith(s, { ...stored, accessToken: parts.join(':') })).toThrow(FieldDecryptionError);
    expect(openWith(s, { ...stored, workspaceId: '00000000-0000-4000-8000-000000000000' })).toThrow(/authentication failed/);
    expect(openWith(s, { ...stored, refreshToken: token })).toThrow(/refreshToken.*authentication failed/); // moved to another field
    expect(openWith(s, { ...stored, accessToken: 'ya29.clear' })).toThrow(/not encrypted/);
    expect(openWith(security({ encryptionKeys: 'e9:XWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY=' }), stored)).toThrow(/unknown key id "e1"/);
    expect(openWith(new JobSecurity({ signing: 'disabled' }), stored)).toThrow(/JOB_ENCRYPTION_KEYS is not set/);
    expect(() => decryptField(parseKeyRing('K', E1, { exactBytes: 32 }), 'garbage', Buffer.from(''))).toThrow(/malformed envelope/);
  });

  it('refuses to store a sensitive field without an encryption key, and leaves jobs without secrets alone', () => {
    const noKey = new JobSecurity({ signingKeys: K_NEW });
    expect(() => noKey.seal(connect, { workspaceId: WS, accessToken: 'ya29.x', account: 'x' })).toThrow(/JOB_ENCRYPTION_KEYS is not set: job test-connect/);
    const p = { n: 1 };
    expect(noKey.seal(plain, p)).toBe(p);
    expect(noKey.open(plain, p)).toBe(p);
  });

  it('protect() encrypts then signs what is stored; admit() verifies then decrypts', () => {
    const s = security();
    const opts: Record<string, unknown> = { attempts: 3 };
    const payload = { workspaceId: WS, accessToken: 'ya29.secret-token', account: 'x' };
    const stored = s.protect(connect, payload, opts);
    expect(typeof opts[SIGNATURE_OPTION]).toBe('string');
    const job = { id: opts.jobId as string, data: roundTrip(stored), opts: roundTrip(opts) };
    expect(s.admit(connect, job)).toEqual(payload);
    expect(() => s.admit(connect, { ...job, data: { ...job.data, account: 'y' } })).toThrow(JobSignatureError);
  });
});

describe('defineJob sensitive fields', () => {
  it('are top-level string fields of the job (checked by the compiler) and default to none', () => {
    const def = defineJob({
      name: 'test-types',
      queue: 'integration',
      description: 'types only',
      scope: 'workspace',
      payload: { n: z.number(), s: z.string(), o: z.string().optional() },
      sensitive: [
        's',
        'o',
        // @ts-expect-error a number is not a string field
        'n',
        // @ts-expect-error not a field of the job
        'nope',
      ],
    });
    expect(def.sensitive).toEqual(['s', 'o', 'n', 'nope']);
    expect(plain.sensitive).toEqual([]);
  });
});

describe('jobSecurityFromEnv', () => {
  it('requires keys unless unsigned mode is chosen explicitly, which production refuses', () => {
    expect(() => jobSecurityFromEnv({})).toThrow(/JOB_SIGNING_KEYS is not set/);
    expect(() => jobSecurityFromEnv({ NODE_ENV: 'production' })).toThrow(/JOB_SIGNING_KEYS is not set/);
    expect(() => jobSecurityFromEnv({ NODE_ENV: 'production', JOB_SIGNING: 'disabled' })).toThrow(/refused when NODE_ENV=production/);
    const warnings: string[] = [];
    const unsigned = jobSecurityFromEnv({ JOB_SIGNING: 'disabled' }, (m) => warnings.push(m));
    expect(unsigned.signing).toBe(false);
    expect(warnings).toEqual([expect.stringMatching(/neither signed nor verified/)]);
    const full = jobSecurityFromEnv({ NODE_ENV: 'production', JOB_SIGNING_KEYS: K_NEW, JOB_ENCRYPTION_KEYS: E1 });
    expect(full.signing && full.encryption).toBe(true);
    expect(() => jobSecurityFromEnv({ JOB_SIGNING: 'off' })).toThrow(/JOB_SIGNING/);
    expect(() => jobSecurityFromEnv({ JOB_SIGNING_KEYS: K_NEW, JOB_ENCRYPTION_KEYS: K_NEW.slice(0, 20) })).toThrow(/JOB_ENCRYPTION_KEYS: entry 1/);
  });
});
