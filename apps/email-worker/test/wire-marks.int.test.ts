import { randomUUID } from 'node:crypto';
import type { RedisServer } from '@coldcopy/testing';
import type { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRedisWireMarks } from '../src/providers/wire-marks.js';
import { useKillableRedis } from './killable-redis.js';

/*
 * On-the-wire marks against a real, killable Redis (AOF on): a lapsed claim without a mark is
 * proven unsent only at a second look, once a check key written at the first one is still there;
 * a check lost with Redis's last writes is written again and proves nothing yet.
 */
const LEASE_MS = 5000;

/** Waits until the Redis behind `redis` has served its data for `ms` (INFO's uptime is in whole seconds). */
async function upFor(redis: Redis, ms: number): Promise<void> {
  for (;;) {
    const uptime = Number(/uptime_in_seconds:(\d+)/.exec(await redis.info('server'))?.[1]);
    if (uptime * 1000 >= ms) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('on-the-wire marks (Redis)', () => {
  const killable = useKillableRedis();
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    ({ server, redis } = killable);
    await upFor(redis, 2000); // claims below are made after the start (plus the margin below)
  });

  it('an unmarked claim is pending at the first look and unsent at the next; a marked one is neither', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    // no event wait: the marked claim is judged at once (no Send event of the campaign: unvouched)
    const marks = createRedisWireMarks(redis, prefix, { leaseMs: LEASE_MS, lineageMarginMs: 0, rolloutMs: 0, sendEventWaitMs: 0 });
    const campaignId = randomUUID();
    const [marked, unmarked] = [randomUUID(), randomUUID()];
    await new Promise((r) => setTimeout(r, 20)); // after the first worker's start (wire-since)
    const claimedAt = new Date();
    await marks.mark({ campaignId, campaignEmailId: marked, attempt: 1 });
    const claims = [
      { id: marked, attempt: 1, claimedAt },
      { id: unmarked, attempt: 1, claimedAt },
    ];
    const unvouched = { ids: new Set([marked]), sendEventsUntil: null };
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([unmarked]), unvouched });
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set([unmarked]), pending: new Set(), unvouched });
    // the mark is per claim: the same row's next attempt has none
    expect(await marks.judge(campaignId, [{ id: marked, attempt: 2, claimedAt }])).toEqual({ unsent: new Set(), pending: new Set([marked]) });
    expect(await redis.pttl(`${prefix}:wire:{${campaignId}}:${marked}:1`)).toBeGreaterThan(23 * 3_600_000);
  });

  it("a marked claim waits SEND_EVENT_WAIT_MS from its mark; then it is unsent (unseen) once the campaign's Send events reach past the mark, else unvouched", async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    let now = Date.now();
    const marks = createRedisWireMarks(redis, prefix, { leaseMs: LEASE_MS, lineageMarginMs: 0, rolloutMs: 0, sendEventWaitMs: 60_000, now: () => now });
    const campaignId = randomUUID();
    const [id, withdrawn] = [randomUUID(), randomUUID()];
    await new Promise((r) => setTimeout(r, 20));
    const claims = [{ id, attempt: 1, claimedAt: new Date() }];
    const markedAt = now;
    await marks.mark({ campaignId, campaignEmailId: id, attempt: 1 });
    expect(await redis.get(`${prefix}:wire:{${campaignId}}:${id}:1`)).toBe(String(markedAt)); // the mark's time
    // a Send event of a message SES accepted after the mark: within the wait, its own may still come
    await marks.sawSendEvent(campaignId, new Date(markedAt + 5000));
    now = markedAt + 59_000;
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    now = markedAt + 60_000;
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set([id]), pending: new Set(), unseen: new Set([id]) });
    // the latest Send event is kept: an older one arriving later does not lower it
    await marks.sawSendEvent(campaignId, new Date(markedAt - 10_000));
    expect(await redis.get(`${prefix}:wire:{${campaignId}}:send-events`)).toBe(String(markedAt + 5000));
    expect(await redis.pttl(`${prefix}:wire:{${campaignId}}:send-events`)).toBeGreaterThan(23 * 3_600_000);
    // Send events only up to the mark (plus SES's clock margin): nothing vouches for it
    const other = randomUUID();
    await marks.sawSendEvent(other, new Date(markedAt + 1000));
    await marks.mark({ campaignId: other, campaignEmailId: id, attempt: 1 });
    now = markedAt + 120_000;
    expect(await marks.judge(other, claims)).toEqual({
      unsent: new Set(),
      pending: new Set(),
      unvouched: { ids: new Set([id]), sendEventsUntil: new Date(markedAt + 1000) },
    });
    // a withdrawn mark (its slot went stale while it was written) leaves the claim unmarked
    now = Date.now();
    await marks.mark({ campaignId, campaignEmailId: withdrawn, attempt: 1 });
    await marks.unmark({ campaignId, campaignEmailId: withdrawn, attempt: 1 });
    expect(await marks.judge(campaignId, [{ id: withdrawn, attempt: 1, claimedAt: new Date() }])).toEqual({ unsent: new Set(), pending: new Set([withdrawn]) });
  });

  it('a check lost with Redis (kill -9, AOF without fsync of the last writes) proves nothing: written again, judged later', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    const marks = createRedisWireMarks(redis, prefix, { leaseMs: LEASE_MS, lineageMarginMs: 0, rolloutMs: 0 });
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
    // a claim made after the restart is judged on this Redis's marks (the lost check, rewritten, proves it at the next look)
    await upFor(redis, 2000);
    const later = [{ id, attempt: 2, claimedAt: new Date() }];
    expect(await marks.judge(campaignId, later)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    expect(await marks.judge(campaignId, later)).toEqual({ unsent: new Set([id]), pending: new Set() });
  });

  it('a mark Redis acknowledged and then lost (kill -9 before it reached the disk, restart) proves nothing by its absence: the claim is judged by the Send events', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    let shift = 0; // the judge's clock runs ahead of the real one by this much
    const marks = createRedisWireMarks(redis, prefix, {
      leaseMs: LEASE_MS,
      lineageMarginMs: 0,
      rolloutMs: 0,
      sendEventWaitMs: 60_000,
      now: () => Date.now() + shift,
    });
    const campaignId = randomUUID();
    const id = randomUUID();
    const markKey = `${prefix}:wire:{${campaignId}}:${id}:1`;
    // marks written since before the claim, and that on disk (a lost wire-since would leave the claim unjudged)
    await redis.config('SET', 'appendfsync', 'always');
    await redis.set(`${prefix}:wire-since`, String(Date.now() - 1000));
    const claims = [{ id, attempt: 1, claimedAt: new Date() }];
    // the mark is acknowledged (and read back) but never reaches the AOF: the writes Redis loses
    // when it dies before its fsync (appendfsync everysec), or a replica promoted without them
    await redis.config('SET', 'appendonly', 'no');
    await marks.mark({ campaignId, campaignEmailId: id, attempt: 1 });
    expect(await redis.get(markKey)).not.toBeNull();
    await server.stopProcess('SIGKILL');
    await server.startProcess(); // appendonly yes again (its config file): the AOF from before the mark
    await redis.ping();
    expect(await redis.get(markKey)).toBeNull();
    // the request may have reached SES: neither the first look nor the second proves it unsent
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set(), pending: new Set([id]) });
    // past the event wait from the end of its lease (the latest its request could leave), with Send
    // events only up to then: nothing shows SES never got it, left to UNKNOWN_OUTCOME_POLICY
    shift = LEASE_MS + 61_000;
    await marks.sawSendEvent(campaignId, new Date(claims[0]!.claimedAt.getTime() + LEASE_MS));
    expect(await marks.judge(campaignId, claims)).toEqual({
      unsent: new Set(),
      pending: new Set(),
      unvouched: { ids: new Set([id]), sendEventsUntil: new Date(claims[0]!.claimedAt.getTime() + LEASE_MS) },
    });
    // a Send event of a message SES accepted after its lease ended (plus the clock margin), none of its own: SES never got it
    const later = new Date(claims[0]!.claimedAt.getTime() + LEASE_MS + 1500);
    await marks.sawSendEvent(campaignId, later);
    expect(await marks.judge(campaignId, claims)).toEqual({ unsent: new Set([id]), pending: new Set(), unseen: new Set([id]) });
    // a long lease: its lost mark was written before the restart, and so its request left (it
    // leaves right after its mark); a Send event of a message SES accepted since then vouches
    const longLease = createRedisWireMarks(redis, prefix, { leaseMs: 600_000, lineageMarginMs: 0, rolloutMs: 0, sendEventWaitMs: 0 });
    const other = randomUUID();
    await longLease.sawSendEvent(other, new Date(claims[0]!.claimedAt.getTime() + 10));
    expect(await longLease.judge(other, claims)).toMatchObject({ unsent: new Set(), unvouched: { ids: new Set([id]) } });
    await new Promise((r) => setTimeout(r, 2100)); // past the restart (INFO's whole seconds) and the clock margin
    await longLease.sawSendEvent(other, new Date());
    expect(await longLease.judge(other, claims)).toEqual({ unsent: new Set([id]), pending: new Set(), unseen: new Set([id]) });
  });

  it('claims from before the first worker that writes marks (plus the rollout time) are not judged', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}:email`;
    await redis.set(`${prefix}:wire-since`, String(Date.now()));
    const marks = createRedisWireMarks(redis, prefix, { leaseMs: LEASE_MS });
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
