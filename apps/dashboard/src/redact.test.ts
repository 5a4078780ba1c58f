import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from './redact.js';

describe('job data redaction', () => {
  const redact = createRedactor();

  it('replaces secrets and bodies at any depth, keeps ids and counters', () => {
    const data = {
      workspaceId: 'w1',
      campaignEmailId: 'c1',
      apiKey: 'sk-live',
      auth: { accessToken: 'a', refresh_token: 'r', clientSecret: 's' },
      message: { subject: 'Hi', html: '<p>secret</p>', text: 'secret', bodyHtml: '<b>', content: 'x' },
      messages: [{ role: 'user', content: 'draft this' }],
      headers: { Authorization: 'Bearer x', 'content-type': 'json' },
      maxTokens: 800,
      contentType: 'text/plain',
      password: null,
    };
    expect(redact(data)).toEqual({
      workspaceId: 'w1',
      campaignEmailId: 'c1',
      apiKey: REDACTED,
      auth: { accessToken: REDACTED, refresh_token: REDACTED, clientSecret: REDACTED },
      message: { subject: 'Hi', html: REDACTED, text: REDACTED, bodyHtml: REDACTED, content: REDACTED },
      messages: [{ role: 'user', content: REDACTED }],
      headers: { Authorization: REDACTED, 'content-type': 'json' },
      maxTokens: 800,
      contentType: 'text/plain',
      password: null,
    });
    expect(data.apiKey).toBe('sk-live'); // the original is untouched
  });

  it('takes extra keys (fields a job definition marks sensitive)', () => {
    expect(createRedactor(['recipientEmail'])({ recipient_email: 'a@b.c', leadId: 'l' })).toEqual({ recipient_email: REDACTED, leadId: 'l' });
  });

  it('passes scalars and encrypted strings through', () => {
    expect(redact('enc:v1:abcdef')).toBe('enc:v1:abcdef');
    expect(redact(42)).toBe(42);
    expect(redact(undefined)).toBeUndefined();
  });
});
