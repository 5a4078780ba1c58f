import { describe, expect, it } from 'vitest';
import { ConfigError } from '../definitions/errors.js';
import { loadHardeningEnv } from './hardening-env.js';

const KEYS = 'k2:HyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fg=';
const tools = () => {
  const warnings: string[] = [];
  return { warnings, tools: { app: 't', warn: (m: string) => warnings.push(m), onAlertError: () => {} } };
};

describe('worker hardening env', () => {
  it('defaults the dead-letter bounds and has no alerts without ALERT_WEBHOOK_URL', () => {
    const { tools: t } = tools();
    const cfg = loadHardeningEnv({ JOB_SIGNING_KEYS: KEYS }, t);
    expect(cfg.deadLetters).toEqual({ maxEntries: 10_000, maxAgeMs: 30 * 86_400_000 });
    expect(cfg.alerts).toBeUndefined();
    expect(cfg.security.signing).toBe(true);
  });

  it('reads bounds and the webhook, and names bad variables without printing secrets', async () => {
    const { tools: t } = tools();
    const cfg = loadHardeningEnv(
      { JOB_SIGNING_KEYS: KEYS, DLQ_MAX_ENTRIES: '500', DLQ_MAX_AGE_DAYS: '7', ALERT_WEBHOOK_URL: 'https://hooks.slack.test/T000/B000/XXXX' },
      t,
    );
    expect(cfg.deadLetters).toEqual({ maxEntries: 500, maxAgeMs: 7 * 86_400_000 });
    expect(cfg.alerts).toBeDefined();
    await cfg.alerts!.close();
    const err = (() => {
      try {
        loadHardeningEnv({ JOB_SIGNING_KEYS: KEYS, ALERT_WEBHOOK_URL: 'ftp://secret-token@x', DLQ_MAX_ENTRIES: '0' }, t);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toMatch(/ALERT_WEBHOOK_URL/);
    expect(err!.message).toMatch(/DLQ_MAX_ENTRIES/);
    expect(err!.message).not.toContain('secret-token');
  });

  it('refuses to start without signing keys, and warns loudly in explicit unsigned mode', () => {
    const { warnings, tools: t } = tools();
    expect(() => loadHardeningEnv({}, t)).toThrow(/JOB_SIGNING_KEYS is not set/);
    expect(() => loadHardeningEnv({ NODE_ENV: 'production', JOB_SIGNING: 'disabled' }, t)).toThrow(/refused when NODE_ENV=production/);
    expect(loadHardeningEnv({ JOB_SIGNING: 'disabled' }, t).security.signing).toBe(false);
    expect(warnings).toHaveLength(1);
  });
});
