import { describe, expect, it } from 'vitest';
import { SessionCodec } from './session.js';
import type { AdminUser } from './users.js';

const ana: AdminUser = { name: 'ana', role: 'operator', passwordHash: '$2b$10$' + 'a'.repeat(53) };
const secret = 's'.repeat(32);

describe('session cookies', () => {
  it('round-trips a session until it expires', () => {
    const codec = new SessionCodec(secret, 60_000);
    const { value, session } = codec.issue(ana, 1_000);
    expect(codec.verify(value, [ana], 2_000)).toEqual(session);
    expect(session).toMatchObject({ user: 'ana', role: 'operator', exp: 61_000 });
    expect(codec.verify(value, [ana], 61_000)).toBeUndefined();
  });

  it('rejects tampering, another secret, and users that changed', () => {
    const codec = new SessionCodec(secret, 60_000);
    const { value } = codec.issue(ana, 0);
    const [body, sig] = value.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), r: 'operator', u: 'vic' })).toString('base64url');
    expect(codec.verify(`${forged}.${sig}`, [ana], 1)).toBeUndefined();
    expect(new SessionCodec('t'.repeat(32), 60_000).verify(value, [ana], 1)).toBeUndefined();
    expect(codec.verify(value, [{ ...ana, role: 'viewer' }], 1)).toBeUndefined();
    expect(codec.verify(value, [{ ...ana, passwordHash: '$2b$10$' + 'b'.repeat(53) }], 1)).toBeUndefined();
    expect(codec.verify(value, [], 1)).toBeUndefined();
    expect(codec.verify('garbage', [ana], 1)).toBeUndefined();
    expect(codec.verify(undefined, [ana], 1)).toBeUndefined();
  });

  it('refuses short secrets', () => {
    expect(() => new SessionCodec('short', 1000)).toThrow(/at least 32/);
  });
});
