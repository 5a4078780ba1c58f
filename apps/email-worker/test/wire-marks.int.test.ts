import { randomUUID } from 'node:crypto';
import { RedisServer } from '@coldcopy/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisWireMarks } from '../src/providers/wire-marks.js';

/*
 * On-the-wire marks against a real, killable Redis (AOF on): a lapsed claim without a mark is
 * proven unsent only at a second look, once a check key written at the first one is still there;
 * a check lost with Redis's last writes is written again and proves nothing yet.
 */
describe('on-the-wire marks (Redis)', () => {
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await RedisServer.start({ appendOnly: true });
    redis = new Redis(server.url, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined); // refused connections while the server is down
    await redis.ping(); // connected: a worker's marks record their start at once
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('an unmarked claim is pending at the first look and unsent at the next; a marked one is neither', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    const marks = createRedisWireMarks(redis, prefix, { rolloutMs: 0 });
    const campaignId = randomUUID();
    const [marked, unmarked] = [randomUUID(), randomUUID()];
    await new Promise((r) => setTimeout(r, 20)); // after the first worker's start (wire-since)
    const claimedAt = new Date();
    await marks.mark({ campaignId, campaignEmailId: marked, attempt: 1 });
    const claims = [
      { id: marked, attempt: 1, claimedAt },
      { id: unmarked, attempt: 1, claimedAt },
    ];
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([unmarked]) });
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set([unmarked]), pending: new Set() });
    // the mark is per claim: the same row's next attempt has none
    expect(await marks.judge(campaignId, [{ id: marked, attempt: 2, claimedAt }])).toEqual({ unsent: new Set(), pending: new Set([marked]) });
    expect(await redis.pttl(`${prefix}:wire:{${campaignId}}:${marked}:1`)).toBeGreaterThan(23 * 3_600_000);
  });

  it('a check lost with Redis (kill -9, AOF without fsync of the last writes) proves nothing: written again, judged later', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    const marks = createRedisWireMarks(redis, prefix, { rolloutMs: 0 });
    const campaignId = randomUUID();
    const id = randomUUID();
    // Every acknowledged write in the AOF before the kill below: with everysec, Redis may postpone
    // writing its AOF buffer while a background fsync is slow (a busy disk), and a kill -9 then loses
    // writes it had acknowledged, the very loss the deleted check stands for.
    await redis.config('SET', 'appendfsync', 'always');
    await new Promise((r) => setTimeout(r, 20));
    const claims = [{ id, attempt: 1, claimedAt: new Date() }];
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    // as if Redis lost its last second: the check is gone, and so might a mark be
    await redis.del(`${prefix}:wire:{${campaignId}}:${id}:1:check`);
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    // a real kill -9 and restart keeps what the AOF holds: the check written before survives
    await server.stopProcess('SIGKILL');
    await server.startProcess();
    await redis.ping();
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set([id]), pending: new Set() });
  });

  it('claims from before the first worker that writes marks (plus the rollout time) are not judged', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    await redis.set(`${prefix}:wire-since`, String(Date.now()));
    const marks = createRedisWireMarks(redis, prefix);
    const id = randomUUID();
    const campaignId = randomUUID();
    expect(await marks.judge(campaignId, [{ id, attempt: 1, claimedAt: new Date(Date.now() - 60_000) }])).toEqual({ unsent: new Set(), pending: new Set() });
    expect(await marks.judge(campaignId, [{ id, attempt: 1, claimedAt: new Date(Date.now() + 29 * 60_000) }])).toEqual({
      unsent: new Set(),
      pending: new Set(),
    });
    expect(await marks.judge(campaignId, [{ id, attempt: 1, claimedAt: new Date(Date.now() + 31 * 60_000) }])).toEqual({
      unsent: new Set(),
      pending: new Set([id]),
    });
  });
});
