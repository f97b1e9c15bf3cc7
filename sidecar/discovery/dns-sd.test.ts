// dns_sd against a real DNS server on loopback (the test harness's, speaking the DNS wire
// format), through Node's resolver as the sidecar runs it: SRV/A/AAAA targets and meta labels,
// the search path, NXDOMAIN vs errors. Conformance with Prometheus itself: test/e2e/refresh-sd-conformance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../../test/harness/dns-server.js';
import { candidateNames, dnsSdRefresh, parseResolvConf, resolverQuery } from './dns-sd.js';
import { parseRefreshSd, type DnsSdSpec } from './refresh-sd.js';
import type { TargetGroup } from './types.js';

describe('the search path', () => {
  it('reads search and ndots from resolv.conf (the last search line wins, comments ignored)', () => {
    expect(parseResolvConf('nameserver 10.96.0.10\nsearch monitoring.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2 # k8s\n')).toEqual({ search: ['monitoring.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 });
    expect(parseResolvConf('nameserver 1.1.1.1\n')).toEqual({ search: [], ndots: 1 });
  });

  it('tries names as the Go client does: rooted as is, enough dots first, else the search domains first', () => {
    const conf = { search: ['ns.svc.cluster.local', 'cluster.local'], ndots: 2 };
    expect(candidateNames('db.example.com.', conf)).toEqual(['db.example.com.']);
    expect(candidateNames('_m._tcp.db.example.com', conf)).toEqual(['_m._tcp.db.example.com.', '_m._tcp.db.example.com.ns.svc.cluster.local.', '_m._tcp.db.example.com.cluster.local.']);
    expect(candidateNames('db.ns', conf)).toEqual(['db.ns.ns.svc.cluster.local.', 'db.ns.cluster.local.', 'db.ns.']);
  });
});

describe('dns_sd lookups on a real DNS server', () => {
  let server: DnsServer;
  beforeAll(async () => {
    server = await DnsServer.start('127.0.0.1');
    server.zone.set('_metrics._tcp.shop.example', { SRV: [{ target: 'a.shop.example', port: 9100 }, { target: 'b.shop.example', port: 9200 }] });
    server.zone.set('exporters.shop.example', { A: ['10.1.0.1', '10.1.0.2'], AAAA: ['fd00::1'] });
    server.zone.set('empty.shop.example', {});
    server.zone.set('db.ns.svc.cluster.local', { A: ['10.2.0.1'] });
  });
  afterAll(() => server.stop());

  const run = async (entry: Record<string, unknown>, previous: Map<string, TargetGroup> = new Map(), search: string[] = []) =>
    dnsSdRefresh(parseRefreshSd('dns', entry) as DnsSdSpec, { query: resolverQuery([`127.0.0.1:${server.port}`]), resolvConf: () => ({ search, ndots: 1 }) })(previous);

  it('SRV: target:port, the record target rooted (trailing dot) and its port as meta labels, source = the name', async () => {
    const { groups } = await run({ names: ['_metrics._tcp.shop.example'] });
    const group = groups.get('_metrics._tcp.shop.example');
    expect(group?.labels).toEqual({});
    expect(group?.targets.sort((a, b) => a.__address__!.localeCompare(b.__address__!))).toEqual([
      { __address__: 'a.shop.example:9100', __meta_dns_name: '_metrics._tcp.shop.example', __meta_dns_srv_record_target: 'a.shop.example.', __meta_dns_srv_record_port: '9100' },
      { __address__: 'b.shop.example:9200', __meta_dns_name: '_metrics._tcp.shop.example', __meta_dns_srv_record_target: 'b.shop.example.', __meta_dns_srv_record_port: '9200' },
    ]);
  });

  it('A and AAAA: address:port (IPv6 bracketed), no SRV meta labels', async () => {
    const a = (await run({ names: ['exporters.shop.example'], type: 'A', port: 9100 })).groups.get('exporters.shop.example');
    expect(a?.targets.map((t) => t.__address__).sort()).toEqual(['10.1.0.1:9100', '10.1.0.2:9100']);
    expect(a?.targets[0]).toEqual({ __address__: expect.any(String), __meta_dns_name: 'exporters.shop.example' });
    const aaaa = (await run({ names: ['exporters.shop.example'], type: 'AAAA', port: 9100 })).groups.get('exporters.shop.example');
    expect(aaaa?.targets.map((t) => t.__address__)).toEqual(['[fd00::1]:9100']);
  });

  it('a name with no records of the type, and a name that does not exist, are empty groups (targets gone)', async () => {
    const previous = new Map([['gone.shop.example', { source: 'gone.shop.example', targets: [{ __address__: 'old:1' }], labels: {} }]]);
    const { groups, errors } = await run({ names: ['empty.shop.example', 'gone.shop.example'], type: 'A', port: 80 }, previous);
    expect(errors).toEqual([]);
    expect(groups.get('empty.shop.example')?.targets).toEqual([]);
    expect(groups.get('gone.shop.example')?.targets).toEqual([]);
  });

  it('a failing server (SERVFAIL) keeps the name\'s previous targets and says so; other names still refresh', async () => {
    server.zone.set('flaky.shop.example', { fail: true });
    const previous = new Map([['flaky.shop.example', { source: 'flaky.shop.example', targets: [{ __address__: '10.9.9.9:80' }], labels: {} }]]);
    const { groups, errors } = await run({ names: ['flaky.shop.example', 'exporters.shop.example'], type: 'A', port: 80 }, previous);
    expect(groups.get('flaky.shop.example')?.targets).toEqual([{ __address__: '10.9.9.9:80' }]);
    expect(groups.get('exporters.shop.example')?.targets).toHaveLength(2);
    expect(errors.join()).toMatch(/flaky\.shop\.example: could not resolve/);
    await expect(run({ names: ['flaky.shop.example'], type: 'A', port: 80 }, previous)).rejects.toThrow(/DNS lookups failed/);
  });

  it('finds a short name through the search domains', async () => {
    const { groups } = await run({ names: ['db'], type: 'A', port: 5432 }, new Map(), ['ns.svc.cluster.local']);
    expect(groups.get('db')?.targets).toEqual([{ __address__: '10.2.0.1:5432', __meta_dns_name: 'db' }]);
  });
});
