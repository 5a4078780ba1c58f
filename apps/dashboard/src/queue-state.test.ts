import { describe, expect, it } from 'vitest';
import { parseClientList, workersOf } from './queue-state.js';

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
    expect(workersOf(clients, `bull:${Buffer.from('email').toString('base64')}`)).toEqual([
      { id: '3', addr: '10.0.0.5:51234', age: 120, idle: 2 },
    ]);
    expect(workersOf(clients, 'bull:YWk=')).toHaveLength(1);
    expect(workersOf(clients, 'bull:bWFpbnRlbmFuY2U=')).toEqual([]);
  });
});
