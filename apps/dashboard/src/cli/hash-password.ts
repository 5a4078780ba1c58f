import { stdin, stdout, stderr, argv } from 'node:process';
import { createInterface } from 'node:readline';
import { BCRYPT_COST, hashPassword, parseAdminUsers, ROLES } from '../auth/users.js';

/**
 * Prints a bcrypt hash for ADMIN_USERS.
 *   pnpm --filter @coldcopy/dashboard hash-password [name] [role]
 * Reads the password from stdin (piped, or typed without echo), never from argv (shell history).
 */
async function readPassword(): Promise<string> {
  if (!stdin.isTTY) {
    let data = '';
    for await (const chunk of stdin) data += String(chunk);
    return data.replace(/\r?\n$/, '');
  }
  stderr.write('Password: ');
  const rl = createInterface({ input: stdin, terminal: true });
  // Mute the echo of typed characters.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const password = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  stderr.write('\n');
  return password;
}

const [name, role] = argv.slice(2);
if (role && !(ROLES as readonly string[]).includes(role)) {
  stderr.write(`role must be one of ${ROLES.join(', ')}\n`);
  process.exit(64);
}
const password = await readPassword();
if (password.length < 12) {
  stderr.write('use at least 12 characters\n');
  process.exit(65);
}
const hash = await hashPassword(password, BCRYPT_COST);
if (name) {
  const entry = `${name}:${role ?? 'viewer'}:${hash}`;
  parseAdminUsers(entry); // the entry must be accepted by the dashboard
  stdout.write(`${entry}\n`);
} else {
  stdout.write(`${hash}\n`);
}
