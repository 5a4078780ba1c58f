import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-job path, registered in a prom-client `Registry` next to
 * its own metrics and rendered by it.
 *
 * prom-client validates and hashes the label set on every `inc()` / `observe()`, even through a
 * `labels()` child: about 1 µs per call, several calls per job, a large share of the "nearly free"
 * budget of a layer over Bull (docs/benchmarks.md). Here `labels()` returns a series object once
 * per label set and the per-job call is a few arithmetic operations on it; the exposition is
 * built at scrape time, in the same shape as prom-client's (a test renders both and compares).
 * Only what the worker needs: positive increments, fixed buckets, no exemplars.
 */

interface MetricValue {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName?: string;
}

/** The part of prom-client's metric interface a Registry calls. */
interface RegistrableMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }>;
  reset(): void;
}

export interface HotMetricConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly registers?: readonly Registry[];
}

abstract class HotMetric<L extends string, S> implements RegistrableMetric {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly series = new Map<string, { readonly labels: Record<string, string>; readonly series: S }>();

  constructor(config: HotMetricConfig<L>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new TypeError(`invalid metric name ${config.name}`);
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    for (const registry of config.registers ?? []) registry.registerMetric(this as never);
  }

  /** The series for these label values, created on first use; keep it for the hot path. */
  labels(...values: string[]): S {
    if (values.length !== this.labelNames.length) {
      throw new TypeError(`${this.name}: expected ${this.labelNames.length} label values (${this.labelNames.join(', ')}), got ${values.length}`);
    }
    const key = values.join('\u0000');
    let found = this.series.get(key);
    if (!found) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = String(values[i])));
      found = { labels, series: this.newSeries() };
      this.series.set(key, found);
    }
    return found.series;
  }

  reset(): void {
    this.series.clear();
  }

  protected abstract newSeries(): S;
  abstract get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }>;
}

export class HotCounterSeries {
  value = 0;
  inc(by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new TypeError(`counter increment must be a finite number >= 0, got ${by}`);
    this.value += by;
  }
}

export class HotCounter<L extends string> extends HotMetric<L, HotCounterSeries> {
  readonly type = 'counter' as const;
  protected newSeries() {
    return new HotCounterSeries();
  }
  async get() {
    const values = [...this.series.values()].map(({ labels, series }) => ({ value: series.value, labels }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class HotHistogramSeries {
  /** per-bucket counts (not cumulative); the last slot is above the highest bound */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value must be a finite number, got ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HotHistogram<L extends string> extends HotMetric<L, HotHistogramSeries> {
  readonly type = 'histogram' as const;
  private readonly bounds: Float64Array;

  constructor(config: HotMetricConfig<L> & { readonly buckets: readonly number[] }) {
    super(config);
    const sorted = [...config.buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new TypeError(`${config.name}: buckets must be distinct finite numbers`);
    }
    if ((config.labelNames as readonly string[]).includes('le')) throw new TypeError(`${config.name}: "le" is reserved for histogram buckets`);
    this.bounds = Float64Array.from(sorted);
  }

  protected newSeries() {
    return new HotHistogramSeries(this.bounds);
  }

  async get() {
    const values: MetricValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, series } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ value: cumulative, labels: { ...labels, le: bound }, metricName: bucketName });
      });
      values.push({ value: series.count, labels: { ...labels, le: '+Inf' }, metricName: bucketName });
      values.push({ value: series.sum, labels, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
