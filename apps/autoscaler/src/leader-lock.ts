import type { Cluster, Redis } from 'ioredis';
import { EMPTY_MEMORY, type ScalerMemory } from './policy.js';

/**
 * One scaler at a time: a Redis lease (`SET` with an expiry, renewed every tick) carrying a
 * fencing token from a counter that only grows. Everything the leader writes (its memory of
 * cooldowns and holds, the claim of a change) goes through a script that first checks the lease
 * still holds its token, so a scaler that paused past its lease (GC, a stopped VM) and woke up
 * after another took over cannot write, and does not send its update. Every key shares one hash
 * tag, so the scripts also run on a Redis Cluster.
 */

const ACQUIRE = `
local v = redis.call('GET', KEYS[1])
if not v then
  local t = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2])
  return t
end
local sep = string.find(v, '|', 1, true)
if sep and string.sub(v, 1, sep - 1) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(string.sub(v, sep + 1))
end
return false
`;

/** KEYS: lease, memory hash; ARGV: owner|token, then field/value pairs. */
const FENCED_HSET = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', KEYS[2], ARGV[i]) else redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
return 1
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface Lease {
  readonly token: number;
}

export class LeaderLock {
  private readonly leaseKey: string;
  private readonly fenceKey: string;
  private readonly memoryKey: string;
  private held: number | undefined;

  constructor(
    private readonly redis: Redis | Cluster,
    /** e.g. `coldcopy-autoscaler:<app id>`; one scaler per app */
    name: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {
    const tag = `{${name}}`;
    this.leaseKey = `${tag}:lease`;
    this.fenceKey = `${tag}:fence`;
    this.memoryKey = `${tag}:memory`;
  }

  /** Takes or renews the lease; undefined when another scaler holds it. */
  async acquire(): Promise<Lease | undefined> {
    const token = (await this.redis.eval(ACQUIRE, 2, this.leaseKey, this.fenceKey, this.owner, String(this.ttlMs))) as number | null;
    this.held = token ?? undefined;
    return token === null ? undefined : { token };
  }

  /** The memory of every component (what the leader last wrote). */
  async memory(): Promise<Map<string, ScalerMemory>> {
    const raw = await this.redis.hgetall(this.memoryKey);
    const out = new Map<string, ScalerMemory>();
    for (const [field, value] of Object.entries(raw)) {
      const [component, key] = field.split('|') as [string, 'lastChangeAt' | 'lowSince'];
      const m = out.get(component) ?? EMPTY_MEMORY;
      out.set(component, { ...m, [key]: Number(value) });
    }
    return out;
  }

  /**
   * Writes memory entries if the lease still holds `lease.token`; false when it was lost (nothing
   * written). Used before an update as its claim, so a deposed leader sends nothing.
   */
  async write(lease: Lease, entries: ReadonlyMap<string, ScalerMemory>): Promise<boolean> {
    const args: string[] = [];
    for (const [component, m] of entries) {
      args.push(`${component}|lastChangeAt`, m.lastChangeAt === null ? '' : String(m.lastChangeAt));
      args.push(`${component}|lowSince`, m.lowSince === null ? '' : String(m.lowSince));
    }
    const ok = (await this.redis.eval(FENCED_HSET, 2, this.leaseKey, this.memoryKey, `${this.owner}|${lease.token}`, ...args)) as number;
    return ok === 1;
  }

  async release(): Promise<void> {
    if (this.held === undefined) return;
    await this.redis.eval(RELEASE, 1, this.leaseKey, `${this.owner}|${this.held}`);
    this.held = undefined;
  }
}
