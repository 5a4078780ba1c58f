import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotCounter, HotHistogram } from './hot-metrics.js';

/** The text exposition sorted line by line (label order inside a line is normalised too). */
function normalised(text: string): string[] {
  return text
    .trim()
    .split('\n')
    .map((line) => line.replace(/\{([^}]*)\}/, (_, inner: string) => `{${inner.split(',').sort().join(',')}}`))
    .sort();
}

describe('hot metrics', () => {
  const buckets = [0.05, 0.1, 1, 5];
  const values = [0, 0.05, 0.07, 0.1, 0.5, 1, 4.99, 5, 7, 1000, 0.01];

  it('render exactly what prom-client renders for the same observations', async () => {
    const hotRegistry = new Registry();
    const promRegistry = new Registry();
    const hotHistogram = new HotHistogram({ name: 'h_seconds', help: 'h', labelNames: ['queue', 'job_name'], buckets, registers: [hotRegistry] });
    const promHistogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['queue', 'job_name'], buckets, registers: [promRegistry] });
    const hotCounter = new HotCounter({ name: 'c_total', help: 'c', labelNames: ['queue'], registers: [hotRegistry] });
    const promCounter = new Counter({ name: 'c_total', help: 'c', labelNames: ['queue'], registers: [promRegistry] });
    for (const [i, v] of values.entries()) {
      const job = i % 2 === 0 ? 'a' : 'b';
      hotHistogram.labels('email', job).observe(v);
      promHistogram.labels('email', job).observe(v);
      hotCounter.labels(job === 'a' ? 'email' : 'ai').inc(i);
      promCounter.labels(job === 'a' ? 'email' : 'ai').inc(i);
    }
    expect(normalised(await hotRegistry.metrics())).toEqual(normalised(await promRegistry.metrics()));
    expect((await hotRegistry.getMetricsAsJSON()).map((m) => [m.name, m.type])).toEqual([
      ['h_seconds', 'histogram'],
      ['c_total', 'counter'],
    ]);
  });

  it('returns one series per label set and validates input', () => {
    const counter = new HotCounter({ name: 'x_total', help: 'x', labelNames: ['queue'] });
    expect(counter.labels('email')).toBe(counter.labels('email'));
    expect(counter.labels('email')).not.toBe(counter.labels('ai'));
    expect(() => counter.labels()).toThrow(/expected 1 label values/);
    expect(() => counter.labels('email').inc(-1)).toThrow(/>= 0/);
    expect(() => counter.labels('email').inc(Number.NaN)).toThrow(TypeError);
    const histogram = new HotHistogram({ name: 'y_seconds', help: 'y', labelNames: ['queue'], buckets: [1] });
    expect(() => histogram.labels('email').observe(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => new HotHistogram({ name: 'z', help: 'z', labelNames: ['le'], buckets: [1] })).toThrow(/reserved/);
    expect(() => new HotHistogram({ name: 'z', help: 'z', labelNames: [], buckets: [1, 1] })).toThrow(/distinct/);
    expect(() => new HotCounter({ name: 'bad-name', help: 'z', labelNames: [] })).toThrow(/invalid metric name/);
  });

  it('refuses a second metric of the same name in a registry, as prom-client does', () => {
    const registry = new Registry();
    new HotCounter({ name: 'dup_total', help: 'x', labelNames: [], registers: [registry] });
    expect(() => new Counter({ name: 'dup_total', help: 'x', registers: [registry] })).toThrow(/already been registered/);
  });

  it('reset() clears every series', async () => {
    const registry = new Registry();
    const counter = new HotCounter({ name: 'r_total', help: 'x', labelNames: ['queue'], registers: [registry] });
    counter.labels('email').inc(3);
    registry.resetMetrics();
    expect(await registry.metrics()).not.toMatch(/r_total\{/);
  });
});
