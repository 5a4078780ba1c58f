import { Writable } from 'node:stream';
import winston from 'winston';
import { describe, expect, it } from 'vitest';
import { createLogger, redactFieldNames } from './logger.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ transports: [new winston.transports.Stream({ stream })], defaultMeta: { app: 't' } }) };
}

describe('logger', () => {
  it('writes JSON lines with level, message, time and fields', async () => {
    const { lines, logger } = capture();
    logger.info('job completed', { queue: 'email', jobId: '1' });
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ level: 'info', message: 'job completed', queue: 'email', jobId: '1', app: 't' });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('redacts secrets and email bodies at any depth', async () => {
    const { lines, logger } = capture();
    logger.warn('provider answered', {
      apiKey: 'sk-live-123',
      response: { accessToken: 'ya29.x', nested: { html: '<p>hi</p>', ok: true } },
      headers: [{ authorization: 'Bearer abc' }],
    });
    await new Promise((r) => setImmediate(r));
    const text = JSON.stringify(lines[0]);
    for (const secret of ['sk-live-123', 'ya29.x', '<p>hi</p>', 'Bearer abc']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ response: { nested: { ok: true } } });
  });

  it('redacts the sensitive fields of job definitions once registered', async () => {
    const { lines, logger } = capture();
    redactFieldNames(['calendarSecret']);
    logger.info('handler payload', { payload: { calendarSecret: 'plain-secret', account: 'a' }, calendarSecret: 'plain-secret' });
    await new Promise((r) => setImmediate(r));
    expect(JSON.stringify(lines[0])).not.toContain('plain-secret');
    expect(lines[0]).toMatchObject({ payload: { account: 'a' } });
  });
});
