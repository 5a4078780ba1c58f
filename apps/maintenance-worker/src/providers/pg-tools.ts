import { spawn } from 'node:child_process';
import { findExecutable, pathDirs, postgresBinDirs } from '@coldcopy/binaries';
import type { Readable } from 'node:stream';

/**
 * pg_dump and pg_restore as child processes. Connection settings go through the PG* environment
 * variables (never argv, where the password would show in the process list). pg_dump must be at
 * least the server's major version: set PG_BIN_DIR to the matching client (Debian:
 * /usr/lib/postgresql/<major>/bin); unset, PATH and then the newest Debian installation are tried.
 */
export interface PgTools {
  /** `pg_dump -Fc` to stdout; `done` settles when the process exits (rejects with its stderr) */
  dump(options: { databaseUrl: string; schemaOnly: boolean; snapshotId?: string; signal: AbortSignal }): { stdout: Readable; done: Promise<void> };
  /** `pg_restore` of a custom-format file into a database; stops at the first error */
  restore(options: { databaseUrl: string; file: string; signal: AbortSignal }): Promise<void>;
}

export class PgToolError extends Error {
  override name = 'PgToolError';
}

export function findPgBinary(name: 'pg_dump' | 'pg_restore', binDir?: string): string {
  const found = findExecutable(name, binDir ? [binDir] : [...pathDirs(), ...postgresBinDirs()]);
  if (found) return found;
  throw new PgToolError(
    `${name} not found${binDir ? ` in PG_BIN_DIR=${binDir}` : ' on PATH or in /usr/lib/postgresql/*/bin'}: install the PostgreSQL client of the server's major version (Debian: postgresql-client-<major>)`,
  );
}

/** PG* variables for a postgres:// URL (libpq reads them; nothing secret reaches argv). */
export function pgEnvironment(databaseUrl: string): Record<string, string> {
  const url = new URL(databaseUrl);
  const env: Record<string, string> = {
    PGHOST: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    PGPORT: url.port || '5432',
    PGDATABASE: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'postgres',
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'coldcopy-maintenance-backup',
  };
  if (url.username) env.PGUSER = decodeURIComponent(url.username);
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const host = url.searchParams.get('host');
  if (host) env.PGHOST = host;
  return env;
}

export function createPgTools(binDir?: string): PgTools {
  const childEnv = (databaseUrl: string) => {
    // only what the tools need: no secrets of the worker leak into the child
    const base: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' };
    return { ...base, ...pgEnvironment(databaseUrl) };
  };
  const collect = (stream: Readable | null) => {
    const chunks: Buffer[] = [];
    stream?.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
    return () => Buffer.concat(chunks).toString('utf8').trim().slice(0, 2000);
  };
  return {
    dump({ databaseUrl, schemaOnly, snapshotId, signal }) {
      const args = ['--format=custom', '--no-password', ...(schemaOnly ? ['--schema-only'] : []), ...(snapshotId ? [`--snapshot=${snapshotId}`] : [])];
      const child = spawn(findPgBinary('pg_dump', binDir), args, { env: childEnv(databaseUrl), stdio: ['ignore', 'pipe', 'pipe'], signal });
      const stderr = collect(child.stderr);
      const done = new Promise<void>((resolve, reject) => {
        child.once('error', (err) => reject(new PgToolError(`pg_dump could not run: ${err.message}`)));
        child.once('close', (code, sig) =>
          code === 0 ? resolve() : reject(new PgToolError(`pg_dump failed (${sig ?? `exit ${code}`}): ${stderr() || 'no message'}`)),
        );
      });
      return { stdout: child.stdout, done };
    },
    restore({ databaseUrl, file, signal }) {
      const args = ['--no-password', '--no-owner', '--no-acl', '--exit-on-error', `--dbname=${pgEnvironment(databaseUrl).PGDATABASE}`, file];
      const child = spawn(findPgBinary('pg_restore', binDir), args, { env: childEnv(databaseUrl), stdio: ['ignore', 'ignore', 'pipe'], signal });
      const stderr = collect(child.stderr);
      return new Promise<void>((resolve, reject) => {
        child.once('error', (err) => reject(new PgToolError(`pg_restore could not run: ${err.message}`)));
        child.once('close', (code, sig) =>
          code === 0 ? resolve() : reject(new PgToolError(`pg_restore failed (${sig ?? `exit ${code}`}): ${stderr() || 'no message'}`)),
        );
      });
    },
  };
}
