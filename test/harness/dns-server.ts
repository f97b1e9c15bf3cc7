// A small authoritative DNS server for tests (UDP, dns-packet for the wire format): answers A,
// AAAA and SRV from a zone the test can change, NXDOMAIN for names it does not know, and
// SERVFAIL for names marked failing. Prometheus (under a mount namespace whose resolv.conf
// points here) and the sidecar query it as they would query the cluster's DNS.
import { createSocket, type Socket } from 'node:dgram';
import * as packet from 'dns-packet';

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  SRV?: Array<{ target: string; port: number; priority?: number; weight?: number }>;
  /** Answer SERVFAIL for this name (a lookup error: Prometheus keeps the previous targets). */
  fail?: boolean;
}

/** A resolv.conf naming only this server (port 53: resolv.conf has no port), for startProcess's resolvConf. */
export function resolvConfText(server: { host: string }, search: string[] = [], ndots = 1): string {
  return `nameserver ${server.host}\n${search.length ? `search ${search.join(' ')}\n` : ''}options ndots:${ndots} timeout:1 attempts:2\n`;
}

export class DnsServer {
  /** Fully qualified names without the trailing dot → records. */
  readonly zone = new Map<string, ZoneEntry>();
  queries = 0;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(host = '127.0.0.1', port = 0): Promise<DnsServer> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    const server = new DnsServer(socket, host, socket.address().port);
    socket.on('message', (message, remote) => server.answer(message, remote.address, remote.port));
    return server;
  }

  private answer(message: Buffer, address: string, port: number): void {
    this.queries++;
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return;
    }
    const question = query.questions?.[0];
    const name = (question?.name ?? '').replace(/\.$/, '').toLowerCase();
    const entry = this.zone.get(name);
    const answers: packet.Answer[] = [];
    let rcode = 'NOERROR';
    if (!entry) rcode = 'NXDOMAIN';
    else if (entry.fail) rcode = 'SERVFAIL';
    else if (question?.type === 'A') for (const data of entry.A ?? []) answers.push({ type: 'A', name: question.name, ttl: 5, data });
    else if (question?.type === 'AAAA') for (const data of entry.AAAA ?? []) answers.push({ type: 'AAAA', name: question.name, ttl: 5, data });
    else if (question?.type === 'SRV') for (const r of entry.SRV ?? []) answers.push({ type: 'SRV', name: question.name, ttl: 5, data: { target: r.target, port: r.port, priority: r.priority ?? 0, weight: r.weight ?? 0 } });
    const flags = packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED) | ({ NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as Record<string, number>)[rcode]!;
    const response = packet.encode({ type: 'response', id: query.id, flags, questions: query.questions, answers });
    this.socket.send(response, port, address);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
