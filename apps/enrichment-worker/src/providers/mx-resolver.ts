import { Resolver } from 'node:dns/promises';

/** MX lookups for verify-email, injectable so tests point it at their own DNS server. */
export interface MxResolver {
  /** `none`: the domain has no MX (or does not exist); `failure`: DNS did not answer (retry later) */
  lookup(
    domain: string,
  ): Promise<{ readonly kind: 'mx'; readonly hosts: readonly string[] } | { readonly kind: 'none' } | { readonly kind: 'failure'; readonly code: string }>;
}

const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

/** Node's resolver (c-ares), on the system's servers or the given ones (`host:port`). */
export function createDnsMxResolver(options: { servers?: readonly string[]; timeoutMs?: number } = {}): MxResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
  if (options.servers && options.servers.length > 0) resolver.setServers([...options.servers]);
  return {
    async lookup(domain) {
      try {
        const records = await resolver.resolveMx(domain);
        // RFC 7505 null MX ("." with preference 0): the domain accepts no mail
        const hosts = records
          .filter((r) => r.exchange && r.exchange !== '.')
          .sort((a, b) => a.priority - b.priority)
          .map((r) => r.exchange);
        return hosts.length > 0 ? { kind: 'mx', hosts } : { kind: 'none' };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
        return NO_RECORDS.has(code) ? { kind: 'none' } : { kind: 'failure', code };
      }
    },
  };
}
