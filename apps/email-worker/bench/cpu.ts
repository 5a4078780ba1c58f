import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of processes from /proc (Linux): utime + stime of a process and of every live
 * descendant, plus cutime + cstime (children that already exited and were reaped, e.g. Postgres
 * backends of closed connections). Wall-clock rates on a shared machine say little; CPU ms per
 * send, per process, says what the system costs.
 */

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime, ms */
  readonly own: number;
  /** stime (kernel), ms */
  readonly ownSys: number;
  /** cutime + cstime, ms */
  readonly children: number;
  /** cstime, ms */
  readonly childrenSys: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name may contain spaces and parentheses: fields start after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] = state (field 3); utime is field 14, stime 15, cutime 16, cstime 17
  const n = (field: number) => Number(fields[field - 3]);
  const ms = 1000 / TICKS_PER_SECOND;
  return { pid, ppid: n(4), own: (n(14) + n(15)) * ms, ownSys: n(15) * ms, children: (n(16) + n(17)) * ms, childrenSys: n(17) * ms };
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s) stats.push(s);
  }
  return stats;
}

/** CPU ms used so far by `pid` and its descendants (live ones, and reaped ones through cutime); `sys`: kernel time only. */
export function treeCpuMs(pid: number, stats: readonly Stat[] = allStats(), sys = false): number {
  const byParent = new Map<number, Stat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const root = stats.find((s) => s.pid === pid);
  if (!root) return Number.NaN;
  let total = 0;
  const visit = (s: Stat) => {
    total += sys ? s.ownSys + s.childrenSys : s.own + s.children;
    for (const c of byParent.get(s.pid) ?? []) visit(c);
  };
  visit(root);
  return total;
}

/** A process to measure: alone (`tree: false`, e.g. the bench process, whose children are measured on their own) or with its descendants. */
export interface CpuGroup {
  readonly pid: number;
  readonly tree: boolean;
}

/** One reading of several named processes, taken from a single /proc scan; `sys`: kernel time only. */
export function sampleCpu(groups: Readonly<Record<string, CpuGroup>>, sys = false): Record<string, number> {
  const stats = allStats();
  return Object.fromEntries(
    Object.entries(groups).map(([name, g]) => {
      if (g.tree) return [name, treeCpuMs(g.pid, stats, sys)];
      const s = stats.find((x) => x.pid === g.pid);
      return [name, s ? (sys ? s.ownSys : s.own) : Number.NaN];
    }),
  );
}

/** CPU ms per unit of work, per group and in total, between two samples. */
export function cpuPerUnit(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
  units: number,
): Record<string, { cpuMs: number; msPerSend: number }> {
  const out: Record<string, { cpuMs: number; msPerSend: number }> = {};
  let total = 0;
  for (const name of Object.keys(after)) {
    const used = after[name]! - (before[name] ?? 0);
    total += used;
    out[name] = { cpuMs: Math.round(used), msPerSend: Number((used / units).toFixed(2)) };
  }
  out.total = { cpuMs: Math.round(total), msPerSend: Number((total / units).toFixed(2)) };
  return out;
}

/** The postmaster's pid of a cluster (first line of postmaster.pid in its data directory). */
export function postmasterPid(dataDir: string): number {
  return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
}
