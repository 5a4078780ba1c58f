import { register, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectProcessMetrics, declareMetrics, PROMTOOL_REJECTED_DEFAULTS } from './metrics.js';

describe('component metrics helpers', () => {
  it('declares counters and gauges on the registry, with their labels', async () => {
    const registry = new Registry();
    const metric = declareMetrics(registry);
    metric.counter('x_total', 'xs', ['kind']).inc({ kind: 'a' }, 2);
    metric.gauge('y_seconds', 'ys').set(5);
    const text = await registry.metrics();
    expect(text).toContain('# HELP x_total xs');
    expect(text).toContain('x_total{kind="a"} 2');
    expect(text).toContain('y_seconds 5');
  });

  it('registers nothing without a registry (not even on prom-client’s global one)', () => {
    const metric = declareMetrics(undefined);
    metric.counter('z_total', 'zs').inc();
    expect(register.getSingleMetric('z_total')).toBeUndefined();
  });

  it('collects the process metrics without the ones promtool rejects', async () => {
    const registry = new Registry();
    collectProcessMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('process_cpu_user_seconds_total');
    for (const rejected of PROMTOOL_REJECTED_DEFAULTS) expect(names).not.toContain(rejected);
  });
});
