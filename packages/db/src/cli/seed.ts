/**
 * pnpm db:seed [--leads N] [--seed S]
 * Creates (or replaces) the deterministic demo workspace `demo-<seed>` in DATABASE_URL.
 */
import pg from 'pg';
import { DbConfigError, loadDbEnv } from '../env.js';
import { clientConfig } from '../pool.js';
import { seedDemo } from '../seed.js';

function parseArgs(argv: string[]): { leads: number; seed: number; refresh: boolean; force: boolean } | string {
  const out = { leads: 1_000, seed: 42, refresh: true, force: false };
  const args = argv.filter((a) => a !== '--');
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    const value = () => inline ?? args[++i];
    if (flag === '--leads' || flag === '--seed') {
      const raw = value();
      const n = Number(raw);
      if (raw === undefined || !Number.isSafeInteger(n) || n < (flag === '--leads' ? 1 : 0)) {
        return `${flag} needs a ${flag === '--leads' ? 'positive' : 'non-negative'} integer, got ${raw ?? 'nothing'}`;
      }
      if (flag === '--leads') out.leads = n;
      else out.seed = n;
    } else if (flag === '--no-refresh') {
      out.refresh = false;
    } else if (flag === '--force') {
      out.force = true;
    } else {
      return `unknown argument ${arg}`;
    }
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: pnpm db:seed [--leads N (default 1000)] [--seed S (default 42)] [--no-refresh] [--force]');
    return 0;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    console.error(`${args}\nusage: pnpm db:seed [--leads N] [--seed S] [--no-refresh] [--force]`);
    return 2;
  }
  const env = loadDbEnv();
  const client = new pg.Client({ ...clientConfig(env), statement_timeout: 0 });
  await client.connect();
  const started = Date.now();
  try {
    const summary = await seedDemo(client, {
      leads: args.leads,
      seed: args.seed,
      refreshViews: args.refresh,
      force: args.force,
      log: (line) => console.log(`  [${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`),
    });
    console.log(
      `${summary.skipped ? 'already seeded' : 'seeded'} workspace ${summary.slug} (${summary.workspaceId}): ${summary.leads} leads, ${summary.enrolments} enrolments, ` +
        `${summary.campaignEmails} sent emails, ${summary.events} events, ${summary.suppressions} suppressions in ` +
        `${(summary.ms / 1000).toFixed(1)} s`,
    );
  } finally {
    await client.end();
  }
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
