import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { parseAdminUsers, verifyCredentials } from './users.js';

const hash = bcrypt.hashSync('s3cret-password', 10);

describe('admin users', () => {
  it('parses entries separated by commas or newlines', () => {
    const users = parseAdminUsers(` ana:operator:${hash} ,\nvic:viewer:${hash}\n`);
    expect(users).toEqual([
      { name: 'ana', role: 'operator', passwordHash: hash },
      { name: 'vic', role: 'viewer', passwordHash: hash },
    ]);
  });

  it('rejects malformed entries and weak hashes', () => {
    expect(() => parseAdminUsers('ana:operator')).toThrow(/name:role:bcrypt-hash/);
    expect(() => parseAdminUsers(`bad name:viewer:${hash}`)).toThrow(/letters, digits/);
    expect(() => parseAdminUsers(`ana:viewer:${bcrypt.hashSync('x', 4)}`)).toThrow(/cost 04 is too low/);
  });

  it('verifies passwords; an unknown user costs the same work and fails', async () => {
    const users = parseAdminUsers(`ana:operator:${hash}`);
    expect((await verifyCredentials(users, 'ana', 's3cret-password'))?.role).toBe('operator');
    expect(await verifyCredentials(users, 'ana', 'wrong')).toBeUndefined();
    expect(await verifyCredentials(users, 'nobody', 's3cret-password')).toBeUndefined();
  });
});
