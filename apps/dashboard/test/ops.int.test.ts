import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWorkerMetrics } from '@coldcopy/queue-core/runtime';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useDashboard } from './helpers.js';
import { requireDebianBinary } from '@coldcopy/testing';

const OPS = fileURLToPath(new URL('../../../ops/', import.meta.url));
const ALERTS = join(OPS, 'prometheus/alerts.yml');
const GRAFANA = join(OPS, 'grafana/coldcopy-queues.json');

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string; refId: string; datasource: { uid: string } }>;
}

function promtool(args: string[], options: { cwd?: string; input?: string } = {}) {
  const bin = requireDebianBinary('promtool', 'prometheus');
  if (!bin.path) return { skipped: bin.missing! };
  const r = spawnSync(bin.path, args, { encoding: 'utf8', ...options });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Metric names used by a PromQL expression (identifiers followed by `{`, `[` or standing alone before `)`). */
function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b(bull_[a-z_]+|nodejs_[a-z_]+|process_[a-z_]+)\b/g)) names.add(m[1]!);
  return [...names];
}

describe('alert rules and the Grafana dashboard', () => {
  const fx = useDashboard();

  async function exportedNames(): Promise<Set<string>> {
    await fx.queues.enqueue('email', {});
    const text = (await request(fx.app).get('/metrics')).text;
    const names = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]!));
    // Bull's finished counters appear once workers record them; the worker metrics come from the
    // workers' side port.
    names.add('bull_queue_jobs_finished_total');
    const worker = await createWorkerMetrics(undefined, { defaultMetrics: false }).registry.getMetricsAsJSON();
    for (const m of worker) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
    return names;
  }

  it('promtool check rules accepts alerts.yml', (ctx) => {
    const r = promtool(['check', 'rules', ALERTS]);
    if ('skipped' in r) return ctx.skip(r.skipped);
    // every `- alert:` of the file is a rule promtool found (no hard-coded count to keep in step)
    const rules = (readFileSync(ALERTS, 'utf8').match(/^\s*- alert:/gm) ?? []).length;
    expect(rules).toBeGreaterThan(0);
    expect(r.output).toContain(`SUCCESS: ${rules} rules found`);
    expect(r.status).toBe(0);
  });

  it('the alerts fire as their unit tests say (promtool test rules)', (ctx) => {
    const r = promtool(['test', 'rules', 'alerts.test.yml'], { cwd: join(OPS, 'prometheus') });
    if ('skipped' in r) return ctx.skip(r.skipped);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('alert rules only use metrics that are exported', async () => {
    const names = await exportedNames();
    const withoutComments = readFileSync(ALERTS, 'utf8')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    const used = metricNames(withoutComments);
    expect(used.length).toBeGreaterThan(4);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('the Grafana dashboard is well-formed, its queries parse and use exported metrics', async (ctx) => {
    const dash = JSON.parse(readFileSync(GRAFANA, 'utf8')) as {
      uid: string;
      title: string;
      schemaVersion: number;
      panels: Panel[];
      templating: { list: Array<{ name: string }> };
    };
    expect(dash.uid).toBe('coldcopy-queues');
    expect(dash.templating.list.map((v) => v.name)).toEqual(['datasource', 'queue']);
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    const titles = dash.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['waiting', 'per minute', 'duration', 'wait', 'failure']) expect(titles).toContain(topic);

    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr, ds: t.datasource.uid })));
    expect(exprs.every((e) => e.ds === '${datasource}')).toBe(true);
    const names = await exportedNames();
    for (const e of exprs)
      expect(
        metricNames(e.expr).filter((n) => !names.has(n)),
        e.panel,
      ).toEqual([]);

    // Every query must parse: wrap them as recording rules (Grafana variables substituted).
    const dir = mkdtempSync(join(tmpdir(), 'grafana-promql-'));
    try {
      const rules = exprs
        .map((e, i) => {
          const expr = e.expr.replaceAll('$__rate_interval', '5m').replaceAll('$queue', '.*');
          return `      - record: grafana:panel_${i}\n        expr: ${JSON.stringify(expr)}`;
        })
        .join('\n');
      const file = join(dir, 'panels.yml');
      writeFileSync(file, `groups:\n  - name: grafana-panels\n    rules:\n${rules}\n`);
      const r = promtool(['check', 'rules', file]);
      if ('skipped' in r) return ctx.skip(r.skipped);
      expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
