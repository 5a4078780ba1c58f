import { describe, expect, it } from 'vitest';
import { createHttpsCallbackNotifier, isPrivateAddress } from './callback.js';

describe('callback address rules', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.20.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    'not-an-ip',
  ])('%s is not public', (a) => expect(isPrivateAddress(a)).toBe(true));
  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('%s is public', (a) => expect(isPrivateAddress(a)).toBe(false));

  it('refuses other schemes and literal private addresses before any connection', async () => {
    const n = createHttpsCallbackNotifier({ allowPrivate: false, timeoutMs: 1000 });
    const signal = new AbortController().signal;
    expect(await n.notify('http://example.com/x', {}, {}, signal)).toMatchObject({ delivered: false, reason: 'refused-scheme' });
    expect(await n.notify('https://[::1]:9/x', {}, {}, signal)).toMatchObject({ delivered: false, reason: 'refused-address' });
    expect(await n.notify('https://169.254.169.254/latest/meta-data', {}, {}, signal)).toMatchObject({ delivered: false, reason: 'refused-address' });
  });
});
