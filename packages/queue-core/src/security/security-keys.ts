import { createSecretKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../definitions/errors.js';

/**
 * Key rings for job signing and field encryption, read from variables such as
 * `JOB_SIGNING_KEYS=k2:<base64>,k1:<base64>`: the first key is current (signs, encrypts), every key
 * verifies or decrypts, so a key is rotated by prepending a new one and dropping the old one once
 * the jobs it protected have drained. Error messages name the variable and the key id, never the
 * secret.
 */
export interface KeyRing {
  /** key id of the current key */
  readonly currentId: string;
  readonly current: Buffer;
  readonly keys: ReadonlyMap<string, Buffer>;
  /** the same keys as KeyObjects (created once: cheaper per cipher than raw buffers) */
  readonly keyObjects: ReadonlyMap<string, KeyObject>;
}

const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export interface KeyRingRules {
  /** exact decoded length (AES-256: 32) */
  readonly exactBytes?: number;
  /** minimum decoded length (HMAC: 32) */
  readonly minBytes?: number;
}

export function parseKeyRing(variable: string, raw: string, rules: KeyRingRules): KeyRing {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new ConfigError(`${variable}: no keys (expected "kid:base64key[,oldkid:base64key…]")`);
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const where = `${variable}: entry ${index + 1}`;
    if (colon < 0) throw new ConfigError(`${where} is not "kid:base64key"`);
    const kid = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    if (!KID.test(kid)) throw new ConfigError(`${where}: key id must be 1–32 letters, digits, _ or -`);
    if (keys.has(kid)) throw new ConfigError(`${where}: duplicate key id "${kid}"`);
    if (!BASE64.test(encoded)) throw new ConfigError(`${where} (key id "${kid}"): the key is not base64`);
    const key = Buffer.from(encoded, encoded.includes('-') || encoded.includes('_') ? 'base64url' : 'base64');
    if (rules.exactBytes !== undefined && key.length !== rules.exactBytes) {
      throw new ConfigError(`${where} (key id "${kid}"): the key must decode to exactly ${rules.exactBytes} bytes, got ${key.length}`);
    }
    if (rules.minBytes !== undefined && key.length < rules.minBytes) {
      throw new ConfigError(`${where} (key id "${kid}"): the key must decode to at least ${rules.minBytes} bytes, got ${key.length}`);
    }
    keys.set(kid, key);
  });
  const [currentId, current] = keys.entries().next().value as [string, Buffer];
  const keyObjects = new Map([...keys].map(([kid, key]) => [kid, createSecretKey(key)] as const));
  return { currentId, current, keys, keyObjects };
}
