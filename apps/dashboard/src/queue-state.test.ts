import { describe, expect, it } from 'vitest';
import { mergeClientLists, parseClientList, workersOf } from './queue-state.js';

const LIST = [
  'id=3 addr=10.0.0.5:51234 laddr=10.0.0.2:6379 fd=8 name=bull:ZW1haWw= age=120 idle=2 flags=b db=0 cmd=brpoplpush',
  'id=4 addr=10.0.0.6:40000 laddr=10.0.0.2:6379 fd=9 name=coldcopy-email-worker age=120 idle=0 flags=N db=0 cmd=evalsha',
  'id=5 addr=10.0.0.7:40001 laddr=10.0.0.2:6379 fd=10 name=other:ZW1haWw= age=5 idle=5 flags=b db=0 cmd=brpoplpush',
  'id=6 addr=10.0.0.8:40002 laddr=10.0.0.2:6379 fd=11 name=bull:YWk= age=9 idle=1 flags=b db=0 cmd=brpoplpush',
  '',
].join('\n');

describe('worker discovery from CLIENT LIST', () => {
  it('counts the blocking connections Bull names <prefix>:<base64(queue)>', () => {
    const clients = parseClientList(LIST);
    expect(clients).toHaveLength(4);
    expect(workersOf(clients, `bull:${Buffer.from('email').toString('base64')}`)).toEqual([{ id: '3', addr: '10.0.0.5:51234', age: 120, idle: 2 }]);
    expect(workersOf(clients, 'bull:YWk=')).toHaveLength(1);
    expect(workersOf(clients, 'bull:bWFpbnRlbmFuY2U=')).toEqual([]);
  });

  it('matches the whole name: analytics (unpadded base64) does not count the workers of analytics-1', () => {
    const b64 = (name: string) => Buffer.from(name).toString('base64');
    const clients = parseClientList(`id=9 addr=10.0.0.9:40009 name=bull:${b64('analytics-1')} age=1 idle=1 flags=b cmd=brpoplpush\n`);
    expect(`bull:${b64('analytics-1')}`.startsWith(`bull:${b64('analytics')}`)).toBe(true);
    expect(workersOf(clients, `bull:${b64('analytics')}`)).toEqual([]);
    expect(workersOf(clients, `bull:${b64('analytics-1')}`)).toHaveLength(1);
  });
});

describe('merging the CLIENT LIST replies of several Redis Cluster nodes', () => {
  const name = `{bull-email}:${Buffer.from('email').toString('base64')}`;
  const nodeA = [
    `id=7 addr=10.0.0.5:51234 laddr=10.0.1.1:6379 fd=8 name=${name} age=120 idle=120 flags=N db=0 cmd=client|setname`,
    'id=8 addr=10.0.0.5:51240 laddr=10.0.1.1:6379 fd=9 name=coldcopy-email-worker age=120 idle=0 flags=b db=0 cmd=brpoplpush',
  ].join('\n');
  // same ids on another node: different connections
  const nodeB = `id=7 addr=10.0.0.6:40000 laddr=10.0.1.2:6379 fd=8 name=${name} age=60 idle=60 flags=N db=0 cmd=client|setname\n`;

  it('keeps every node’s connections, also when their ids coincide', () => {
    const merged = mergeClientLists([
      { node: '10.0.1.1:6379', text: nodeA },
      { node: '10.0.1.2:6379', text: nodeB },
    ]);
    expect(merged).toHaveLength(3);
    expect(workersOf(merged, name).map((w) => w.addr)).toEqual(['10.0.0.5:51234', '10.0.0.6:40000']);
  });

  it('lists a connection once when its server is read twice (under two addresses)', () => {
    const merged = mergeClientLists([
      { node: '10.0.1.1:6379', text: nodeA },
      { node: 'redis-a.internal:6379', text: nodeA },
      { node: '10.0.1.2:6379', text: nodeB },
    ]);
    expect(workersOf(merged, name)).toHaveLength(2);
  });

  it('without laddr (Redis < 6.2) tells nodes apart by the address they were read from', () => {
    const strip = (t: string) => t.replace(/ laddr=\S+/g, '');
    const merged = mergeClientLists([
      { node: '10.0.1.1:6379', text: strip(nodeA) },
      { node: '10.0.1.2:6379', text: strip(nodeB) },
      { node: '10.0.1.2:6379', text: strip(nodeB) },
    ]);
    expect(workersOf(merged, name)).toHaveLength(2);
  });
});
