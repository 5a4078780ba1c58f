/**
 * pnpm db:migrate            apply pending migrations to DATABASE_URL
 * pnpm db:migrate --status   list applied and pending migrations
 */
import { DbConfigError, loadDbEnv } from '../env.js';
import { migrate, migrationStatus } from '../migrate.js';

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => a !== '--');
  const unknown = args.filter((a) => a !== '--status' && a !== '--help' && a !== '-h');
  if (args.includes('--help') || args.includes('-h') || unknown.length > 0) {
    if (unknown.length > 0) console.error(`unknown argument(s): ${unknown.join(' ')}`);
    console.log('usage: pnpm db:migrate [--status]\n  env: DATABASE_URL (required), DATABASE_SSL, DATABASE_CA_CERT');
    return unknown.length > 0 ? 2 : 0;
  }
  const env = loadDbEnv();
  if (args.includes('--status')) {
    const statuses = await migrationStatus(env);
    console.log(`migrations for ${redact(env.DATABASE_URL)}:`);
    for (const s of statuses) {
      console.log(`  ${s.appliedAt ? `applied ${s.appliedAt.toISOString()}` : 'pending                         '}  ${s.name}`);
    }
    const pending = statuses.filter((s) => !s.appliedAt).length;
    console.log(`${statuses.length - pending} applied, ${pending} pending`);
    return 0;
  }
  const started = Date.now();
  const applied = await migrate(env);
  if (applied.length === 0) console.log('database is up to date: no migrations to run');
  else console.log(`applied ${applied.length} migration(s) in ${Date.now() - started} ms:\n  ${applied.join('\n  ')}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof DbConfigError) console.error(err.message);
    else console.error(err);
    process.exit(1);
  },
);
