import { describe, expect, it } from 'vitest';
import { sampleEmail } from '../../test/fixtures/sample-email.js';
import { composeMime } from './mime.js';

function headerBlock(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
}

describe('composeMime', () => {
  it('builds multipart/alternative with both parts, Reply-To and RFC 8058 headers', async () => {
    const raw = (await composeMime(sampleEmail)).toString();
    const headers = headerBlock(raw);
    expect(headers).toMatch(/^From: Ada Lovelace <ada@sender\.example>$/m);
    expect(headers).toMatch(/^To: lead@recipient\.example$/m);
    expect(headers).toMatch(/^Reply-To: replies@sender\.example$/m);
    expect(headers).toMatch(/^Subject: Quick question about Analytical Engines$/m);
    expect(headers).toMatch(/^List-Unsubscribe: <https:\/\/app\.example\.com\/u\/tok\.en>, <mailto:unsub\+tok\.en@example\.com\?subject=unsubscribe>$/m);
    expect(headers).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    expect(headers.match(/^List-Unsubscribe:/gm)).toHaveLength(1);
    expect(headers).toMatch(/^Content-Type: multipart\/alternative/m);
    expect(raw).toContain('Content-Type: text/plain; charset=utf-8');
    expect(raw).toContain('Content-Type: text/html; charset=utf-8');
    expect(raw).toContain('Hello Charles');
  });

  it('encodes non-ASCII and keeps CR/LF in the subject from injecting headers', async () => {
    const raw = (await composeMime({ ...sampleEmail, subject: 'Grüße\r\nBcc: victim@evil.example' })).toString();
    const headers = headerBlock(raw);
    expect(headers).not.toMatch(/^Bcc:/m);
    expect(headers).toMatch(/^Subject: =\?UTF-8\?/m);
  });

  it('refuses unsubscribe URLs with the wrong scheme', async () => {
    await expect(composeMime({ ...sampleEmail, unsubscribe: { ...sampleEmail.unsubscribe, url: 'http://insecure.example/u' } })).rejects.toThrow(/https:/);
  });
});
