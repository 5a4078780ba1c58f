import dns2 from 'dns2';

const { Packet } = dns2;

/**
 * A DNS server on 127.0.0.1 (UDP) answering MX queries from a table, for verify-email's MX check
 * in tests and `npm run dev` (the worker's resolver is pointed at it with DNS_SERVERS). Names not in
 * the table are NXDOMAIN; names listed under `servfail` get SERVFAIL (a DNS failure: retry later).
 */
export interface DnsEmulatorZone {
  /** domain → MX hosts (priority 10, 20, …); an empty list answers NOERROR with no records */
  readonly mx: Record<string, readonly string[]>;
  readonly servfail?: readonly string[];
}

export interface DnsEmulator {
  /** `127.0.0.1:<port>` for Resolver#setServers / DNS_SERVERS */
  readonly server: string;
  readonly queries: string[];
  close(): Promise<void>;
}

export async function startDnsEmulator(zone: DnsEmulatorZone, port: number): Promise<DnsEmulator> {
  const queries: string[] = [];
  const servfail = new Set((zone.servfail ?? []).map((d) => d.toLowerCase()));
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const q = request.questions[0];
      const name = (q?.name ?? '').toLowerCase().replace(/\.$/, '');
      queries.push(name);
      if (servfail.has(name)) {
        response.header.rcode = Packet.RCODE.SERVFAIL;
      } else if (q && Object.hasOwn(zone.mx, name)) {
        if (q.type === Packet.TYPE.MX) {
          zone.mx[name]!.forEach((exchange, i) =>
            response.answers.push({ name: q.name, type: Packet.TYPE.MX, class: Packet.CLASS.IN, ttl: 60, exchange, priority: 10 * (i + 1) } as never),
          );
        }
      } else {
        response.header.rcode = Packet.RCODE.NXDOMAIN;
      }
      void send(response);
    },
  });
  server.on('requestError', () => {});
  await server.listen({ udp: { port, address: '127.0.0.1' } });
  return {
    server: `127.0.0.1:${port}`,
    queries,
    close: () => server.close(),
  };
}
