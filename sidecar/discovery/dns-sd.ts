// dns_sd_configs as Prometheus runs them: every name is looked up with the resolver's search
// path (resolv.conf `search` and `ndots`, names with a trailing dot as they are), SRV, A or AAAA,
// one group per name (source = the name). The three outcomes are Prometheus': an answer (maybe
// empty) is the group; NXDOMAIN for every candidate name is an empty group; any other failure
// (timeout, SERVFAIL, refused) keeps the name's previous group.
import { readFileSync } from 'node:fs';
import { promises as dns } from 'node:dns';
import type { DnsSdSpec, Refresh } from './refresh-sd.js';
import type { Labels, TargetGroup } from './types.js';

export interface ResolvConf {
  search: string[];
  ndots: number;
}

/** The parts of resolv.conf the search path needs (the servers are the resolver's business). */
export function parseResolvConf(text: string): ResolvConf {
  let search: string[] = [];
  let ndots = 1;
  for (const line of text.split('\n')) {
    const fields = line.replace(/[#;].*/, '').trim().split(/\s+/);
    if (fields[0] === 'search' || fields[0] === 'domain') search = fields.slice(1).filter(Boolean);
    if (fields[0] === 'options') {
      for (const option of fields.slice(1)) {
        const m = /^ndots:(\d+)$/.exec(option);
        if (m) ndots = Math.min(Number(m[1]), 15);
      }
    }
  }
  return { search, ndots };
}

/** The names to try for `name`, in order, as the Go DNS client's NameList builds them. */
export function candidateNames(name: string, conf: ResolvConf): string[] {
  if (name.endsWith('.')) return [name];
  const labels = name.split('.').filter(Boolean).length;
  const fqdn = `${name}.`;
  const searched = conf.search.map((domain) => `${fqdn}${domain.replace(/\.?$/, '.')}`);
  return labels > conf.ndots ? [fqdn, ...searched] : [...searched, fqdn];
}

export type LookupOutcome = { kind: 'answer'; targets: Labels[] } | { kind: 'nxdomain' } | { kind: 'error'; message: string };

/** One query: `answer` also when the name exists without records of that type. */
export interface DnsQuery {
  (fqdn: string, type: DnsSdSpec['type'], port: number): Promise<LookupOutcome>;
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** A query through Node's resolver (the servers of /etc/resolv.conf unless `servers` says otherwise). */
export function resolverQuery(servers?: string[]): DnsQuery {
  const resolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
  if (servers) resolver.setServers(servers);
  return async (fqdn, type, port) => {
    const name = fqdn.replace(/\.$/, '');
    // The SRV labels only on SRV targets: Prometheus sets them empty for A/AAAA, and an empty label is no label.
    const target = (address: string, srv?: { name: string; port: number }): Labels =>
      srv ? { __address__: hostPort(srv.name, srv.port), __meta_dns_srv_record_target: `${srv.name}.`, __meta_dns_srv_record_port: String(srv.port) } : { __address__: hostPort(address, port) };
    try {
      if (type === 'SRV') return { kind: 'answer', targets: (await resolver.resolveSrv(name)).map((r) => target('', r)) };
      const addresses = type === 'A' ? await resolver.resolve4(name) : await resolver.resolve6(name);
      return { kind: 'answer', targets: addresses.map((a) => target(a)) };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === dns.NODATA) return { kind: 'answer', targets: [] };
      if (code === dns.NOTFOUND) return { kind: 'nxdomain' };
      return { kind: 'error', message: `${code ?? ''} ${err instanceof Error ? err.message : String(err)}`.trim() };
    }
  };
}

export interface DnsSdOptions {
  query?: DnsQuery;
  /** Read before every refresh, as Prometheus does (default /etc/resolv.conf). */
  resolvConf?: () => ResolvConf;
}

const systemResolvConf = (): ResolvConf => {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return { search: [], ndots: 1 };
  }
};

/** The refresh for one dns_sd_configs entry; a name whose lookup failed keeps its previous group. */
export function dnsSdRefresh(spec: DnsSdSpec, options: DnsSdOptions = {}): Refresh {
  const query = options.query ?? resolverQuery();
  const conf = options.resolvConf ?? systemResolvConf;
  return async (previous) => {
    const resolv = conf();
    const groups = new Map<string, TargetGroup>();
    const failures: string[] = [];
    await Promise.all(
      spec.names.map(async (name) => {
        const outcome = await lookupWithSearchPath(name, spec, resolv, query);
        if (outcome.kind === 'error') {
          failures.push(`${name}: ${outcome.message}`);
          const kept = previous.get(name);
          if (kept) groups.set(name, kept);
          return;
        }
        const targets = outcome.kind === 'answer' ? outcome.targets.map((t) => ({ ...t, __meta_dns_name: name })) : [];
        groups.set(name, { source: name, targets, labels: {} });
      }),
    );
    if (failures.length === spec.names.length) throw new Error(`DNS lookups failed: ${failures.join('; ')}`);
    return { groups, errors: failures };
  };
}

async function lookupWithSearchPath(name: string, spec: DnsSdSpec, conf: ResolvConf, query: DnsQuery): Promise<LookupOutcome> {
  let allNxdomain = true;
  const errors: string[] = [];
  for (const candidate of candidateNames(name, conf)) {
    const outcome = await query(candidate, spec.type, spec.port);
    if (outcome.kind === 'answer') return outcome;
    if (outcome.kind === 'error') {
      allNxdomain = false;
      errors.push(`${candidate} ${outcome.message}`);
    }
  }
  return allNxdomain ? { kind: 'nxdomain' } : { kind: 'error', message: `could not resolve ${name} (${errors.join(', ')})` };
}
