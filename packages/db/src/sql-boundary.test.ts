import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * One SQL boundary: every statement lives in @coldcopy/db's repositories (workspace first, scoped
 * in every WHERE clause), and apps call those functions. This test fails when a file under
 * apps/<app>/src contains SQL: an uppercase statement or a `.query(` with a literal. Tests and
 * benches of an app (apps/<app>/test, apps/<app>/bench) may seed rows with SQL. Provider emulators
 * (apps/<app>/src/emulators) stand in for third-party services and speak their query languages
 * (Salesforce's SOQL `SELECT ... FROM Contact`); they never reach our Postgres, so they are not
 * scanned.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const SQL_PATTERNS: ReadonlyArray<readonly [string, RegExp]> = [
  ['SELECT ... FROM', /\bSELECT\b[^;`'"]{0,400}?\bFROM\b/],
  ['SELECT fn(...)', /\bSELECT\s+[a-z_][a-z0-9_]*\s*\(/],
  ['INSERT INTO', /\bINSERT\s+INTO\b/],
  ['UPDATE ... SET', /\bUPDATE\s+[a-z_][a-z0-9_]*(\s+[a-z_][a-z0-9_]*)?\s+SET\b/],
  ['DELETE FROM', /\bDELETE\s+FROM\b/],
  ['WITH ... AS (', /\bWITH\s+[a-z_][a-z0-9_]*\s+AS\s*\(/],
  ['.query(<literal>)', /\.query\s*(<[^>()]*>)?\s*\(\s*[`'"]/],
];

/** The SQL patterns a source text matches (empty when it has none). */
function sqlIn(text: string): string[] {
  return SQL_PATTERNS.filter(([, re]) => re.test(text)).map(([name]) => name);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['node_modules', 'dist', 'emulators'].includes(entry.name) ? [] : sourceFiles(path);
    return /\.(ts|tsx|js|mjs|cjs)$/.test(entry.name) ? [path] : [];
  });
}

function appSourceFiles(): string[] {
  const apps = join(ROOT, 'apps');
  return readdirSync(apps, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const src = join(apps, d.name, 'src');
      try {
        return sourceFiles(src);
      } catch {
        return []; // an app folder without src/
      }
    });
}

describe('one SQL boundary: no SQL in apps/*/src', () => {
  it('the detector flags planted statements of every kind and leaves prose and Redis calls alone', () => {
    expect(sqlIn("await pool.query('SELECT id FROM leads WHERE workspace_id = $1', [ws]);")).toContain('SELECT ... FROM');
    expect(sqlIn('const sql = `\n  SELECT cl.id,\n    l.email\n  FROM campaign_leads cl`;')).toContain('SELECT ... FROM');
    expect(sqlIn('db.query("SELECT check_consent($1, $2, \'marketing\') AS ok")')).toContain('SELECT fn(...)');
    expect(sqlIn('`INSERT INTO email_threads (workspace_id) VALUES ($1)`')).toEqual(['INSERT INTO']);
    expect(sqlIn('`UPDATE campaigns c SET next_run_at = $3`')).toContain('UPDATE ... SET');
    expect(sqlIn('`UPDATE leads SET status = $3`')).toContain('UPDATE ... SET');
    expect(sqlIn('`DELETE FROM warmup_emails WHERE id = $1`')).toEqual(['DELETE FROM']);
    expect(sqlIn('`WITH t AS (SELECT 1) SELECT * FROM t`')).toContain('WITH ... AS (');
    expect(sqlIn('await tx.query<{ id: string }>(`whatever`)')).toEqual(['.query(<literal>)']);
    expect(sqlIn('// select the first mailbox from the list, then update the lead and delete from the cache')).toEqual([]);
    expect(sqlIn('await redis.get(key); const rows = await listDueCampaignEmails(pool, ws, id, { before, limit });')).toEqual([]);
  });

  it('no file under apps/*/src contains SQL (statements belong in packages/db/src/repositories)', () => {
    const files = appSourceFiles();
    expect(files.length).toBeGreaterThan(0);
    const offenders = files
      .map((file) => ({ file: relative(ROOT, file), found: sqlIn(readFileSync(file, 'utf8')) }))
      .filter((f) => f.found.length > 0)
      .map((f) => `${f.file}: ${f.found.join(', ')}`);
    expect(offenders).toEqual([]);
  });
});
