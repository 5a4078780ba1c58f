/**
 * Job data as the board shows it: secrets and message bodies replaced, everything else intact.
 * The board reads raw job hashes from Redis, so anything a producer put into a payload would
 * otherwise be on screen. Values a producer already encrypted stay encrypted (we never decrypt).
 *
 * Matching is by key name at any depth, after lower-casing and dropping `_` and `-`:
 * exact names (`token`, `text`, `cookie`, …) and suffixes (`…Token`, `…Secret`, `…Password`,
 * `…ApiKey`, `…Html`, `…Body`, `…Content`), so `hubspotAccessToken` and `bodyHtml` are caught
 * while `maxTokens` and `contentType` are not.
 */
export const REDACTED = '[redacted]';

export const DEFAULT_SENSITIVE_KEYS: readonly string[] = [
  'password',
  'passwd',
  'pass',
  'secret',
  'token',
  'apikey',
  'authorization',
  'cookie',
  'setcookie',
  'credential',
  'credentials',
  'signature',
  'privatekey',
  'html',
  'text',
  'body',
  'content',
];

const SENSITIVE_SUFFIXES = ['token', 'secret', 'password', 'passwd', 'apikey', 'privatekey', 'html', 'body', 'content'];

const normalize = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

export type Redactor = (data: unknown) => unknown;

/** `extraKeys`: more field names, e.g. the fields job definitions mark sensitive. */
export function createRedactor(extraKeys: readonly string[] = []): Redactor {
  const exact = new Set([...DEFAULT_SENSITIVE_KEYS, ...extraKeys].map(normalize));
  const isSensitive = (key: string) => {
    const k = normalize(key);
    return exact.has(k) || SENSITIVE_SUFFIXES.some((s) => k.length > s.length && k.endsWith(s));
  };
  const walk = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (depth > 10) return REDACTED; // deeper than any payload of ours: do not show what we did not inspect
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSensitive(k) && v !== null && v !== undefined ? REDACTED : walk(v, depth + 1);
    return out;
  };
  return (data) => walk(data, 0);
}
