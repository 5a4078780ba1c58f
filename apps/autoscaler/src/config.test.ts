import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScalingConfig } from './config.js';

const APP = join(import.meta.dirname, '..');

describe('scaling.json (the rules the image ships)', () => {
  it("parses, uses the seed's thresholds, and names worker apps of the queue it reads", () => {
    const config = loadScalingConfig(join(APP, 'scaling.json'));
    expect(Object.keys(config.workers).length).toBeGreaterThan(0);
    for (const [component, rule] of Object.entries(config.workers)) {
      const pkg = join(APP, '..', component, 'package.json');
      expect(existsSync(pkg), `apps/${component} exists`).toBe(true);
      const manifest = (JSON.parse(readFileSync(pkg, 'utf8')) as { coldcopy: { kind: string; queue?: string } }).coldcopy;
      expect(manifest, component).toMatchObject({ kind: 'worker', queue: rule.queue });
      expect(rule, component).toMatchObject({ scaleUpBacklog: 1000, scaleDownBacklog: 100, scaleDownHoldSeconds: 600 });
    }
    // the seed's email rule: at least 2, at most 10
    expect(config.workers['email-worker']).toMatchObject({ min: 2, max: 10 });
  });

  it('a broken file is a ConfigError naming the file', () => {
    expect(() => loadScalingConfig(join(APP, 'package.json'))).toThrow(/package\.json: .*workers/s);
  });
});
