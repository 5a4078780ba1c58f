import { lookup as dnsLookup } from 'node:dns';
import { request } from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * enrich-lead's optional callback (domain.md §5: "optional webhook POST that cannot fail the
 * job"): one JSON POST to the workspace's https URL after the lead is enriched. It never throws:
 * every failure (refused address, DNS, TLS, timeout, non-2xx) comes back as an outcome the handler
 * logs and counts.
 *
 * SSRF rules: https only, no redirects followed, and the address the connection actually goes to
 * must be public: loopback, private, link-local, CGNAT, unique-local and other special ranges are
 * refused unless `allowPrivate` (ENRICHMENT_CALLBACK_ALLOW_PRIVATE, development only). The check
 * runs in the socket's own DNS lookup, so a name that resolves differently on a second lookup (DNS
 * rebinding) cannot slip through; IP literals are checked before the request.
 */
export interface CallbackNotifier {
  notify(url: string, body: Record<string, unknown>, headers: Record<string, string>, signal: AbortSignal): Promise<CallbackOutcome>;
}

export type CallbackOutcome =
  | { readonly delivered: true; readonly status: number }
  | { readonly delivered: false; readonly reason: 'refused-scheme' | 'refused-address' | 'failed' | 'status'; readonly detail: string };

export interface CallbackOptions {
  /** loopback and private addresses allowed (development only) */
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
  /** extra trusted CA certificates (tests: the local server's self-signed certificate) */
  readonly ca?: string | readonly string[];
  /** name resolution (default: the system's); its answers are checked like any other */
  readonly lookup?: typeof dnsLookup;
}

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** true for loopback, private, link-local and other non-public addresses (IPv4-mapped IPv6 included) */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

class RefusedAddressError extends Error {
  override name = 'RefusedAddressError';
}

export function createHttpsCallbackNotifier(options: CallbackOptions): CallbackNotifier {
  const resolve = options.lookup ?? dnsLookup;
  // the socket's lookup: resolve, then refuse a non-public answer before connecting
  const checkedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolve(hostname, { ...lookupOptions, all: false }, (err, address, family) => {
      if (err) return callback(err, '', 0);
      const addr = address as unknown as string;
      if (!options.allowPrivate && isPrivateAddress(addr)) {
        return callback(new RefusedAddressError(`${hostname} resolves to a non-public address`), '', 0);
      }
      callback(null, addr, family as number);
    });
  };

  return {
    async notify(url, body, headers, signal) {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return { delivered: false, reason: 'refused-scheme', detail: 'not a URL' };
      }
      if (target.protocol !== 'https:') return { delivered: false, reason: 'refused-scheme', detail: `${target.protocol} is not https` };
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !options.allowPrivate && isPrivateAddress(host)) {
        return { delivered: false, reason: 'refused-address', detail: `${host} is not a public address` };
      }
      const payload = JSON.stringify(body);
      return new Promise<CallbackOutcome>((done) => {
        const req = request(
          target,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(payload),
              'user-agent': 'coldcopy-enrichment-callback/1',
              ...headers,
            },
            timeout: options.timeoutMs,
            signal,
            lookup: checkedLookup,
            ...(options.ca ? { ca: options.ca as string[] } : {}),
            agent: false,
          },
          (res) => {
            res.resume();
            const status = res.statusCode ?? 0;
            res.once('end', () =>
              done(status >= 200 && status < 300 ? { delivered: true, status } : { delivered: false, reason: 'status', detail: `HTTP ${status}` }),
            );
            res.once('error', (err) => done({ delivered: false, reason: 'failed', detail: err.message }));
          },
        );
        req.once('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
        req.once('error', (err) =>
          done(
            err instanceof RefusedAddressError || err.name === 'RefusedAddressError'
              ? { delivered: false, reason: 'refused-address', detail: err.message }
              : { delivered: false, reason: 'failed', detail: err.message },
          ),
        );
        req.end(payload);
      });
    },
  };
}
