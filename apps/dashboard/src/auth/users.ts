import bcrypt from 'bcryptjs';

/**
 * Operators of the dashboard. Two roles:
 * - `viewer`: reads the board (read-only Bull Board, every write call refused);
 * - `operator`: may retry, promote, clean, pause and resume (the maintenance queue stays
 *   read-only for everybody: cleaning its `delayed` set kills the repeatable schedules).
 */
export const ROLES = ['viewer', 'operator'] as const;
export type Role = (typeof ROLES)[number];

export interface AdminUser {
  readonly name: string;
  readonly role: Role;
  /** bcrypt hash ($2a$/$2b$/$2y$) */
  readonly passwordHash: string;
}

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/;

/** Parses `name:role:hash,name:role:hash` (whitespace and newlines around entries are ignored). */
export function parseAdminUsers(value: string): AdminUser[] {
  const users: AdminUser[] = [];
  const seen = new Set<string>();
  const entries = value
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter(Boolean);
  for (const [index, entry] of entries.entries()) {
    const [name, role, hash, ...rest] = entry.split(':');
    const where = `entry ${index + 1}${name ? ` (${name})` : ''}`;
    if (!name || !role || !hash || rest.length > 0) throw new Error(`${where}: expected name:role:bcrypt-hash`);
    if (!USER_NAME.test(name)) throw new Error(`${where}: user name may use letters, digits and . _ @ - only`);
    if (!(ROLES as readonly string[]).includes(role)) throw new Error(`${where}: role must be viewer or operator, got "${role}"`);
    const cost = BCRYPT_HASH.exec(hash);
    if (!cost) throw new Error(`${where}: the password must be a bcrypt hash ($2b$12$…), never plain text`);
    if (Number(cost[1]) < 10) throw new Error(`${where}: bcrypt cost ${cost[1]} is too low (use at least 10)`);
    if (seen.has(name)) throw new Error(`${where}: duplicate user name`);
    seen.add(name);
    users.push({ name, role: role as Role, passwordHash: hash });
  }
  return users;
}

export const BCRYPT_COST = 12;

export function hashPassword(password: string, cost = BCRYPT_COST): Promise<string> {
  return bcrypt.hash(password, cost);
}

// Compared against when the user name is unknown, so that the response time does not tell which
// names exist. Made lazily, at the cost of the configured hashes, so the timing matches.
const dummyHashes = new Map<number, string>();
function dummyHash(cost: number): string {
  let hash = dummyHashes.get(cost);
  if (!hash) {
    hash = bcrypt.hashSync('not-a-real-password', cost);
    dummyHashes.set(cost, hash);
  }
  return hash;
}

function costOf(hash: string): number {
  return Number(BCRYPT_HASH.exec(hash)?.[1] ?? BCRYPT_COST);
}

/** The user when name and password match, otherwise undefined (same work either way). */
export async function verifyCredentials(users: readonly AdminUser[], name: string, password: string): Promise<AdminUser | undefined> {
  const user = users.find((u) => u.name === name);
  const hash = user?.passwordHash ?? dummyHash(users[0] ? costOf(users[0].passwordHash) : BCRYPT_COST);
  const ok = await bcrypt.compare(password, hash);
  return ok && user ? user : undefined;
}
