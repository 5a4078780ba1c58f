/**
 * Bench instrumentation, loaded into a spawned worker with `--expose-gc --import <this file>`
 * (never part of the app): on SIGUSR2 the process runs a full garbage collection and appends one
 * JSON line of `process.memoryUsage()` to MEMORY_PROBE_FILE. The heap after a full collection is
 * what the process still holds (its live set), so a series of them tells a leak (keeps growing)
 * from V8 and the allocator warming up (RSS rises, then stays). With MEMORY_PROBE_SNAPSHOTS=<dir>
 * each probe also writes a heap snapshot there, to compare two of them in DevTools. With
 * MEMORY_PROBE_GC=0 it reports without collecting first: the RSS a production process shows, whose
 * heap V8 lets grow to a multiple of the live set between its own major collections.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';

const file = process.env.MEMORY_PROBE_FILE;
const snapshots = process.env.MEMORY_PROBE_SNAPSHOTS;
/** `0`: read the figures as they are, without a collection first (what production sees) */
const collect = process.env.MEMORY_PROBE_GC !== '0';
let n = 0;

if (file) {
  process.on('SIGUSR2', () => {
    if (collect) {
      const gc = (globalThis as { gc?: (options?: { type: 'major'; execution: 'sync' }) => void }).gc;
      if (!gc) throw new Error('memory-probe needs --expose-gc');
      gc({ type: 'major', execution: 'sync' });
    }
    const m = process.memoryUsage();
    n++;
    const snapshot = snapshots ? writeHeapSnapshot(join(snapshots, `${process.pid}-${n}.heapsnapshot`)) : undefined;
    appendFileSync(
      file,
      `${JSON.stringify({ pid: process.pid, n, at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, ...(snapshot ? { snapshot } : {}) })}\n`,
    );
  });
}
