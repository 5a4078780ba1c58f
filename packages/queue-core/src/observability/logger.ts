import winston from 'winston';

export type Logger = winston.Logger;

/**
 * Field names whose values never reach a log line. Matching is by key name at any depth, so a
 * handler that logs a provider response with `accessToken` or an email `html` body stays safe.
 */
const SECRET_KEYS =
  /^(password|pass|secret|token|accesstoken|refreshtoken|apikey|api_key|authorization|cookie|html|text|body|content|contenthtml|contenttext|content_html|content_text|signature|privatekey|private_key|credentials?)$/i;
const REDACTED = '[redacted]';
/** Plus every job definition's `sensitive` fields, registered by the worker runtime at start. */
const sensitiveKeys = new Set<string>();

/** Redacts these field names in every log line of this process (job definitions' `sensitive` fields). */
export function redactFieldNames(names: Iterable<string>): void {
  // `messages[].content` redacts the element's key, `content`
  for (const name of names) sensitiveKeys.add(name.slice(name.lastIndexOf('.') + 1));
}

const isSecretKey = (key: string) => SECRET_KEYS.test(key) || (sensitiveKeys.size > 0 && sensitiveKeys.has(key));

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

const MESSAGE = Symbol.for('message');

/**
 * One pass per entry: redact secret-looking fields (recursing only into object values), stamp the
 * time and serialise. Plain `JSON.stringify` is several times faster than winston's `json()`
 * (safe-stable-stringify); a circular value falls back to a safe rendering. This runs for every
 * job event, so it is kept lean (docs/benchmarks.md).
 */
const jsonLine = winston.format((info) => {
  const entry = info as Record<string | symbol, unknown>;
  for (const key in entry) {
    const value = entry[key];
    if (isSecretKey(key)) entry[key] = REDACTED;
    else if (value !== null && typeof value === 'object') entry[key] = redactValue(value, 1);
  }
  entry.time = new Date().toISOString();
  try {
    entry[MESSAGE] = JSON.stringify(entry);
  } catch {
    entry[MESSAGE] = JSON.stringify({ level: entry.level, message: entry.message, time: entry.time, note: 'unserialisable fields dropped' });
  }
  return info;
});

export interface LoggerOptions {
  readonly level?: string;
  /** static fields on every line, e.g. `{ app: 'email-worker' }` */
  readonly defaultMeta?: Record<string, unknown>;
  /** default: JSON lines on stdout */
  readonly transports?: winston.transport[];
}

/** JSON lines: `{"level":"info","message":"job completed","time":"…","queue":"email",…}`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: options.defaultMeta,
    format: jsonLine(),
    transports: options.transports ?? [new winston.transports.Console()],
  });
}

/** A logger that discards everything (tests, benchmarks of the raw path). */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
