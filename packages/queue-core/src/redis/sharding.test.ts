import { describe, expect, it } from 'vitest';
import { ConfigError } from '../definitions/errors.js';
import {
  bullKeyLayout,
  clusterModeFromEnv,
  fnv1a,
  hashTaggedPrefix,
  hashTagOf,
  shardCountsFromEnv,
  shardFor,
  shardQueueName,
  shardQueueNames,
  splitConcurrency,
} from './sharding.js';

const ws = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('sharding', () => {
  it('hashes with FNV-1a (reference vectors)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('routes a workspace to one stable shard, global jobs to shard 0', () => {
    for (let i = 0; i < 50; i++) {
      const shard = shardFor(ws(i), 4);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(4);
      expect(shardFor(ws(i), 4)).toBe(shard);
      expect(shardFor(ws(i).toUpperCase(), 4)).toBe(shard);
      expect(shardFor(ws(i), 1)).toBe(0);
    }
    expect(shardFor(undefined, 4)).toBe(0);
  });

  it('spreads workspaces roughly evenly', () => {
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardFor(ws(i), 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(700);
  });

  it('names shard 0 after the queue and the others <queue>-<n>', () => {
    expect(shardQueueName('email', 0)).toBe('email');
    expect(shardQueueName('email', 3)).toBe('email-3');
    expect(shardQueueNames('email', 1)).toEqual(['email']);
    expect(shardQueueNames('email', 3)).toEqual(['email', 'email-1', 'email-2']);
  });

  it('splits the total concurrency over the shards, at least 1 each', () => {
    expect(splitConcurrency(5, 1)).toEqual([5]);
    expect(splitConcurrency(5, 2)).toEqual([3, 2]);
    expect(splitConcurrency(20, 3)).toEqual([7, 7, 6]);
    expect(splitConcurrency(1, 2)).toEqual([1, 1]);
  });

  it('reads <QUEUE>_SHARDS and rejects bad values', () => {
    expect(shardCountsFromEnv({})).toEqual({});
    expect(shardCountsFromEnv({ EMAIL_SHARDS: '4', AI_SHARDS: '1', ENRICHMENT_SHARDS: '' })).toEqual({ email: 4 });
    expect(() => shardCountsFromEnv({ EMAIL_SHARDS: '0' })).toThrow(ConfigError);
    expect(() => shardCountsFromEnv({ EMAIL_SHARDS: 'two' })).toThrow(/EMAIL_SHARDS/);
    expect(() => shardCountsFromEnv({ EMAIL_SHARDS: '65' })).toThrow(ConfigError);
  });

  it('turns cluster mode on with BULL_CLUSTER or a hash-tagged prefix', () => {
    expect(clusterModeFromEnv({})).toBe(false);
    expect(clusterModeFromEnv({ BULL_CLUSTER: 'true' })).toBe(true);
    expect(clusterModeFromEnv({ BULL_PREFIX: '{bull}' })).toBe(true);
    expect(clusterModeFromEnv({ BULL_PREFIX: '{bull}', BULL_CLUSTER: 'false' })).toBe(false);
    expect(clusterModeFromEnv({}, '{bull}')).toBe(true);
  });

  it('turns cluster mode on with a Redis Cluster REDIS_URL, and refuses BULL_CLUSTER=false with one', () => {
    const url = 'rediss+cluster://default:hunter2@node-a:6379,node-b:6379';
    expect(clusterModeFromEnv({ REDIS_URL: url })).toBe(true);
    expect(clusterModeFromEnv({ REDIS_URL: url, BULL_CLUSTER: 'true' })).toBe(true);
    expect(clusterModeFromEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })).toBe(false);
    const err = (() => {
      try {
        clusterModeFromEnv({ REDIS_URL: url, BULL_CLUSTER: 'false' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toMatch(/BULL_CLUSTER/);
    expect(err?.message).toMatch(/REDIS_URL/);
    expect(err?.message).not.toMatch(/hunter2/);
  });

  it('hash-tags a prefix for key families used together (dead letters), keeping an existing tag', () => {
    expect(hashTaggedPrefix('bull')).toBe('{bull}');
    expect(hashTaggedPrefix('{bull}')).toBe('{bull}');
    expect(hashTaggedPrefix('app{jobs}')).toBe('app{jobs}');
    for (const prefix of ['bull', '{bull}']) {
      const base = `${hashTaggedPrefix(prefix)}:dlq`;
      expect(new Set([`${base}:index`, `${base}:q:email`, `${base}:e:email:42`].map(hashTagOf))).toEqual(new Set(['bull']));
    }
  });

  it('keeps Bull key layout unchanged outside cluster mode', () => {
    expect(bullKeyLayout('bull', 'email-1', false)).toEqual({ prefix: 'bull', name: 'email-1' });
  });

  it('puts every key of a shard in one hash slot and different shards in different slots', () => {
    const suffixes = [
      'wait',
      'active',
      'delayed',
      'priority',
      'completed',
      'failed',
      'paused',
      'meta-paused',
      'id',
      'repeat',
      'stalled',
      'limiter',
      '42',
      'schedules-lock',
    ];
    const tags = new Set<string>();
    for (const prefix of ['bull', '{bull}']) {
      for (const name of shardQueueNames('email', 3)) {
        const layout = bullKeyLayout(prefix, name, true);
        expect(layout.name).toBe(name);
        const keyTags = new Set(suffixes.map((s) => hashTagOf(`${layout.prefix}:${layout.name}:${s}`)));
        expect(keyTags).toEqual(new Set([`bull-${name}`]));
        tags.add([...keyTags][0]!);
      }
    }
    expect(tags).toEqual(new Set(['bull-email', 'bull-email-1', 'bull-email-2']));
    expect(bullKeyLayout('{bull}', 'email-2', true).prefix).toBe('{bull-email-2}');
  });
});
