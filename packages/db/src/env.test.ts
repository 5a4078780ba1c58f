import { describe, expect, it } from 'vitest';
import { boolEnv, DbConfigError, loadDbEnv } from './env.js';
import { sslOptions, stripSslParams } from './pool.js';

const URL_ = 'postgres://app:secret@db.internal:5432/coldcopy';

describe('loadDbEnv', () => {
  it('applies the defaults', () => {
    expect(loadDbEnv({ DATABASE_URL: URL_ })).toEqual({
      DATABASE_URL: URL_,
      DATABASE_POOL_MAX: 10,
      DATABASE_STATEMENT_TIMEOUT_MS: 30_000,
      DATABASE_SSL: 'disable',
      DATABASE_CA_CERT: undefined,
      DATABASE_APPLICATION_NAME: 'coldcopy-worker',
    });
  });

  it('parses numbers and an explicit TLS mode', () => {
    const env = loadDbEnv({
      DATABASE_URL: URL_,
      DATABASE_POOL_MAX: '25',
      DATABASE_STATEMENT_TIMEOUT_MS: '0',
      DATABASE_SSL: 'verify-full',
    });
    expect(env).toMatchObject({ DATABASE_POOL_MAX: 25, DATABASE_STATEMENT_TIMEOUT_MS: 0, DATABASE_SSL: 'verify-full' });
  });

  it('defaults to require when the URL says sslmode=require, verify-full for sslmode=verify-full', () => {
    expect(loadDbEnv({ DATABASE_URL: `${URL_}?sslmode=require` }).DATABASE_SSL).toBe('require');
    expect(loadDbEnv({ DATABASE_URL: `${URL_}?sslmode=verify-full` }).DATABASE_SSL).toBe('verify-full');
    expect(loadDbEnv({ DATABASE_URL: `${URL_}?sslmode=disable` }).DATABASE_SSL).toBe('disable');
    // DATABASE_SSL wins over the URL
    expect(loadDbEnv({ DATABASE_URL: `${URL_}?sslmode=require`, DATABASE_SSL: 'disable' }).DATABASE_SSL).toBe('disable');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadDbEnv({ DATABASE_URL: 'mysql://x', DATABASE_POOL_MAX: '0', DATABASE_STATEMENT_TIMEOUT_MS: 'soon', DATABASE_SSL: 'yes' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DbConfigError);
    const message = (error as Error).message;
    for (const name of ['DATABASE_URL', 'DATABASE_POOL_MAX', 'DATABASE_STATEMENT_TIMEOUT_MS', 'DATABASE_SSL']) {
      expect(message).toContain(name);
    }
  });

  it('requires DATABASE_URL (an empty value counts as missing)', () => {
    expect(() => loadDbEnv({})).toThrow(/DATABASE_URL: required/);
    expect(() => loadDbEnv({ DATABASE_URL: '' })).toThrow(/DATABASE_URL: required/);
  });

  it('accepts a PEM CA with escaped newlines and rejects anything else', () => {
    const pem = '-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----';
    expect(loadDbEnv({ DATABASE_URL: URL_, DATABASE_CA_CERT: pem }).DATABASE_CA_CERT).toBe('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----');
    expect(() => loadDbEnv({ DATABASE_URL: URL_, DATABASE_CA_CERT: 'not a cert' })).toThrow(/DATABASE_CA_CERT/);
  });
});

describe('boolEnv', () => {
  it('reads true/false/1/0 and nothing else', () => {
    expect(boolEnv.parse('true')).toBe(true);
    expect(boolEnv.parse('1')).toBe(true);
    expect(boolEnv.parse('false')).toBe(false);
    expect(boolEnv.parse('0')).toBe(false);
    expect(boolEnv.safeParse('yes').success).toBe(false);
    expect(boolEnv.safeParse('').success).toBe(false);
  });
});

describe('TLS options', () => {
  it('maps the modes to node-postgres ssl options', () => {
    expect(sslOptions('disable')).toBe(false);
    expect(sslOptions('require')).toEqual({ rejectUnauthorized: false });
    expect(sslOptions('verify-full')).toEqual({ rejectUnauthorized: true });
    expect(sslOptions('verify-full', 'PEM')).toEqual({ rejectUnauthorized: true, ca: 'PEM' });
  });

  it('strips ssl parameters from the URL so they cannot override the ssl option', () => {
    expect(stripSslParams(`${URL_}?sslmode=require&sslrootcert=/x.pem&application_name=w`)).toBe(`${URL_}?application_name=w`);
  });
});
