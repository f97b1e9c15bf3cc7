// dns_sd, http_sd and file_sd conformance: the same discovery sections go to a real Prometheus
// (2.42) and through the sidecar's discoveries; the discovered label sets (targets, meta labels,
// group labels) must be equal job by job, first as set up and again after every source changed.
// DNS comes from the harness's server on 127.0.0.153:53; Prometheus reads /etc/resolv.conf
// itself, so it runs in a mount namespace whose resolv.conf names that server (with a search
// domain, so the search path is compared too). Our side reads the same resolv.conf text.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsSdRefresh, parseResolvConf, resolverQuery } from '../../sidecar/discovery/dns-sd.js';
import { fileSdRefresh } from '../../sidecar/discovery/file-sd.js';
import { httpSdRefresh } from '../../sidecar/discovery/http-sd.js';
import { parseRefreshSds, type Refresh, type RefreshSdSpec } from '../../sidecar/discovery/refresh-sd.js';
import type { Labels, TargetGroup } from '../../sidecar/discovery/types.js';
import { DnsServer, resolvConfText } from '../harness/dns-server.js';
import { waitFor } from '../harness/processes.js';
import { Prometheus } from '../harness/prometheus.js';

const dnsHost = '127.0.0.153';
/** Prometheus' discovery manager sends updates at most every 5 s; refresh every 1 s; 4× slack. */
const convergeMs = 4 * (5_000 + 1_000);
const scrapeDefaults = new Set(['job', '__scheme__', '__metrics_path__', '__scrape_interval__', '__scrape_timeout__']);

describe('dns_sd, http_sd and file_sd conformance with a real Prometheus', () => {
  let dns: DnsServer;
  let http: Server;
  let prometheus: Prometheus;
  const dir = mkdtempSync(join(tmpdir(), 'edot-ta-refresh-sd-'));
  const resolvConf = join(dir, 'resolv.conf');
  const httpAnswers = new Map<string, string>();
  let jobs: Array<{ job_name: string } & Record<string, unknown>> = [];

  beforeAll(async () => {
    dns = await DnsServer.start(dnsHost, 53);
    dns.zone.set('_metrics._tcp.shop.example', { SRV: [{ target: 'a.shop.example', port: 9100 }, { target: 'b.shop.example', port: 9200, priority: 10, weight: 5 }] });
    dns.zone.set('exporters.shop.example', { A: ['10.1.0.1', '10.1.0.2'], AAAA: ['fd00::1', 'fd00::2'] });
    dns.zone.set('more.shop.example', { A: ['10.1.1.1'] });
    dns.zone.set('empty.shop.example', {});
    writeFileSync(resolvConf, resolvConfText(dns, ['shop.example']));

    httpAnswers.set('/sd/a', JSON.stringify([{ targets: ['10.2.0.1:8080', '10.2.0.2:8080'], labels: { team: 'shop', __meta_custom: 'x' } }, { targets: ['10.2.0.3:8080'] }]));
    http = createServer((req, res) => {
      const body = httpAnswers.get(req.url ?? '');
      res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' }).end(body ?? '[]');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const sdBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    writeFileSync(join(dir, 'a.json'), JSON.stringify([{ targets: ['10.3.0.1:9100'], labels: { rack: 'r1' } }, { targets: ['10.3.0.2:9100', '10.3.0.3:9100'], labels: { rack: 'r2' } }]));
    writeFileSync(join(dir, 'b.yaml'), '- targets: [10.3.1.1:9100]\n  labels: { shard: 1, env: prod }\n');

    jobs = [
      { job_name: 'dns-srv', dns_sd_configs: [{ names: ['_metrics._tcp.shop.example'], refresh_interval: '1s' }] },
      // "exporters" reaches exporters.shop.example through the search domain, as in Prometheus.
      // (Names that resolve to the same address would make one target: Prometheus keeps one of them.)
      { job_name: 'dns-a', dns_sd_configs: [{ names: ['exporters', 'more.shop.example', 'empty.shop.example', 'nothing.shop.example'], type: 'A', port: 9100, refresh_interval: '1s' }] },
      { job_name: 'dns-aaaa', dns_sd_configs: [{ names: ['exporters.shop.example.'], type: 'AAAA', port: 9101, refresh_interval: '1s' }] },
      { job_name: 'http', http_sd_configs: [{ url: `${sdBase}/sd/a`, refresh_interval: '1s' }] },
      { job_name: 'files', file_sd_configs: [{ files: [join(dir, '*.json'), join(dir, '*.yaml')], refresh_interval: '1s' }] },
    ];
    prometheus = await Prometheus.start({ global: { scrape_interval: '1h', scrape_timeout: '10s' }, scrape_configs: jobs }, { dir: join(dir, 'prom'), resolvConf });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await dns?.stop();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Each entry's groups from its last refresh: a failed refresh keeps them, as the sidecar's loop does. */
  const previous = new Map<string, ReadonlyMap<string, TargetGroup>>();

  /** Ours: every job's refreshes, label sets as Prometheus merges them (a target's labels win over its group's). */
  async function ours(): Promise<Map<string, string[]>> {
    const conf = parseResolvConf(resolvConfText(dns, ['shop.example']));
    const out = new Map<string, string[]>();
    for (const job of jobs) {
      const sets: string[] = [];
      for (const [index, spec] of parseRefreshSds(job).entries()) {
        const key = `${job.job_name}/${index}`;
        const groups = await refreshOf(spec, conf)(previous.get(key) ?? new Map()).then(
          (result) => result.groups,
          () => previous.get(key) ?? new Map<string, TargetGroup>(),
        );
        previous.set(key, groups);
        for (const group of groups.values()) for (const target of group.targets) sets.push(canonical({ ...group.labels, ...target }));
      }
      out.set(job.job_name, sets.sort());
    }
    return out;
  }

  function refreshOf(spec: RefreshSdSpec, conf: ReturnType<typeof parseResolvConf>): Refresh {
    if (spec.kind === 'dns') return dnsSdRefresh(spec, { query: resolverQuery([`${dnsHost}:53`]), resolvConf: () => conf });
    return spec.kind === 'http' ? httpSdRefresh(spec) : fileSdRefresh(spec);
  }

  async function theirs(): Promise<Map<string, string[]>> {
    const { activeTargets } = await prometheus.targets('active');
    const out = new Map<string, string[]>(jobs.map((j) => [j.job_name, []]));
    for (const target of activeTargets) {
      const discovered = Object.fromEntries(Object.entries(target.discoveredLabels).filter(([name]) => !scrapeDefaults.has(name)));
      out.get(target.scrapePool)?.push(canonical(discovered));
    }
    for (const sets of out.values()) sets.sort();
    return out;
  }

  async function expectSame(phase: string): Promise<void> {
    let last = '';
    await waitFor(`Prometheus and the sidecar discover the same targets (${phase})`, async () => {
      const [a, b] = [await ours(), await theirs()];
      last = `ours:   ${JSON.stringify([...a])}\ntheirs: ${JSON.stringify([...b])}`;
      return JSON.stringify([...a]) === JSON.stringify([...b]);
    }, { timeoutMs: convergeMs, describe: () => last });
    const counts = Object.fromEntries([...(await ours())].map(([job, sets]) => [job, sets.length]));
    console.log(`refresh-sd conformance (${phase}): ${JSON.stringify(counts)}`);
  }

  it('discovers the same targets with the same meta labels as Prometheus', async () => {
    await expectSame('initial');
    const ourSets = await ours();
    // Not vacuous: every job has targets, the SRV meta labels and the search-path name are there.
    for (const job of jobs) expect(ourSets.get(job.job_name)?.length, job.job_name).toBeGreaterThan(0);
    expect(ourSets.get('dns-srv')?.join()).toContain('"__meta_dns_srv_record_target":"b.shop.example."');
    expect(ourSets.get('dns-a')?.filter((s) => s.includes('"__meta_dns_name":"exporters"'))).toHaveLength(2);
  });

  it('follows every source as Prometheus does when records, answers and files change', async () => {
    dns.zone.set('_metrics._tcp.shop.example', { SRV: [{ target: 'b.shop.example', port: 9200 }, { target: 'c.shop.example', port: 9300 }] });
    dns.zone.set('exporters.shop.example', { A: ['10.1.0.3'], AAAA: [] });
    httpAnswers.set('/sd/a', JSON.stringify([{ targets: ['10.2.0.9:8080'], labels: { team: 'checkout' } }]));
    writeFileSync(join(dir, 'next.tmp'), JSON.stringify([{ targets: ['10.3.0.1:9100'], labels: { rack: 'r9' } }]));
    renameSync(join(dir, 'next.tmp'), join(dir, 'a.json'));
    rmSync(join(dir, 'b.yaml'));
    await expectSame('after changes');
    expect((await ours()).get('http')).toHaveLength(1);
  });

  it('keeps the previous targets, as Prometheus does, when a DNS server fails, the HTTP endpoint errs and a file breaks', async () => {
    const before = await ours();
    const failures = async () => {
      const text = await (await fetch(`${prometheus.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
      return [value('prometheus_sd_dns_lookup_failures_total'), value('prometheus_sd_http_failures_total'), value('prometheus_sd_file_read_errors_total')];
    };
    const start = await failures();
    dns.zone.set('more.shop.example', { fail: true });
    dns.zone.set('_metrics._tcp.shop.example', { fail: true });
    httpAnswers.clear(); // 404 from now on
    writeFileSync(join(dir, 'a.json'), '[{"targets": ');
    // Prometheus has met every failure (its own counters), then one discovery update period passes.
    await waitFor('Prometheus failing DNS, HTTP and file refreshes', async () => (await failures()).every((n, i) => n > start[i]!), { timeoutMs: convergeMs });
    await new Promise((resolve) => setTimeout(resolve, 5_000 + 1_000));
    await expectSame('after failures');
    expect(await ours()).toEqual(before);
  });
});

function canonical(labels: Labels | TargetGroup['labels']): string {
  return JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
}
