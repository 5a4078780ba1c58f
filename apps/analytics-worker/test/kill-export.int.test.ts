import { seedDemo } from '@coldcopy/db/seed';
import { exportData } from '@coldcopy/queue-core';
import { openAdminQueues } from '@coldcopy/queue-core/admin';
import { JobSecurity, Producer } from '@coldcopy/queue-core/producer';
import { deletePrefix, spawnWorkerApp, TEST_SIGNING_KEYS, testPrefix, waitFor, type WorkerAppProcess } from '@coldcopy/testing';
import { describe, expect, inject, it } from 'vitest';
import { createExportJob, insertEvents } from './fixtures.js';
import { useAnalyticsHarness } from './harness.js';

const APP_DIR = new URL('..', import.meta.url);

const h = useAnalyticsHarness({ s3: true });
const ROWS = 250_000;
const patient = { timeoutMs: 120_000, intervalMs: 200 };

describe('kill -9 during a large export', () => {
  it('after a restart the export completes once and leaves exactly one object', async () => {
    const client = await h.pool.connect();
    const { workspaceId } = await seedDemo(client, { seed: 707, leads: 50, refreshViews: false });
    client.release();
    await h.pool.query('DELETE FROM email_events WHERE workspace_id = $1', [workspaceId]);
    await insertEvents(h.pool, workspaceId, ROWS);
    const exportJobId = await createExportJob(h.pool, workspaceId, 'email_events', 'json');
    const prefix = testPrefix();
    const env = {
      REDIS_URL: inject('redisUrl'),
      BULL_PREFIX: prefix,
      DATABASE_URL: h.db.url,
      ...h.s3.env,
      EXPORT_BATCH_ROWS: '500',
      // a killed worker's job is taken over once its lock expires
      LOCK_DURATION_MS: '4000',
      STALLED_INTERVAL_MS: '2000',
    };
    const producer = new Producer({ redisUrl: inject('redisUrl'), prefix, security: new JobSecurity({ signingKeys: TEST_SIGNING_KEYS }) });
    let first: WorkerAppProcess | undefined = await spawnWorkerApp(APP_DIR, env);
    let second: WorkerAppProcess | undefined;
    try {
      const job = await producer.enqueue(exportData, { workspaceId, requestedBy: 'system', exportJobId, type: 'email_events', format: 'json' });
      const progress = async () =>
        (await h.pool.query('SELECT status, progress, object_key FROM export_jobs WHERE id = $1', [exportJobId])).rows[0] as {
          status: string;
          progress: number;
          object_key: string | null;
        };
      await waitFor(async () => ((await progress()).progress >= 15 ? true : false), { ...patient, what: 'the export under way' });
      first.child.kill('SIGKILL');
      await first.exited;
      first = undefined;
      const atKill = await progress();
      expect(atKill.status).toBe('processing');
      const key = atKill.object_key!;
      // mid-upload: parts may sit in an unfinished multipart upload, but there is no object
      expect(await h.store.list(`workspaces/${workspaceId}/`)).toEqual([]);

      second = await spawnWorkerApp(APP_DIR, env);
      await waitFor(async () => ((await progress()).status === 'completed' ? true : false), { ...patient, what: 'the export completed after the restart' });

      expect(await h.store.list(`workspaces/${workspaceId}/`)).toEqual([key]);
      const { rows } = await h.pool.query('SELECT row_count::int, file_size::bigint AS size FROM export_jobs WHERE id = $1', [exportJobId]);
      expect(rows[0].row_count).toBe(ROWS);
      const head = await h.store.head(key);
      expect(head?.size).toBe(Number(rows[0].size));
      // the object is the whole array: it opens and closes, and has one member per row
      const text = await new Response(await h.store.get(key)).text();
      expect(text.startsWith('[\n{"id":')).toBe(true);
      expect(text.endsWith('}\n]\n')).toBe(true);
      expect(text.split('\n{"id":').length - 1).toBe(ROWS);
      const { rows: audit } = await h.pool.query('SELECT count(*)::int AS n FROM audit_logs WHERE resource_id = $1', [exportJobId]);
      expect(audit[0].n).toBe(1);
      // Bull: one job, completed, whose result names the object (the run after the takeover)
      const admin = openAdminQueues({ redisUrl: inject('redisUrl'), prefix });
      try {
        const bullJob = await waitFor(
          async () => {
            const j = await admin.shardsOf('analytics')[0]!.inspect.job(job.id);
            return j?.finishedOn ? j : false;
          },
          { ...patient, what: 'the Bull job finished' },
        );
        expect(bullJob.state).toBe('completed');
        expect(bullJob.returnValue).toMatchObject({ objectKey: key, rowCount: ROWS });
      } finally {
        await admin.close();
      }
    } finally {
      first?.child.kill('SIGKILL');
      second?.child.kill('SIGTERM');
      await second?.exited;
      await producer.close();
      await deletePrefix(inject('redisUrl'), prefix);
    }
  }, 240_000);
});
