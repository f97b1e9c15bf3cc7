import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { injectYaml, run } from './inject-cli.js';
import { defaultInjectSettings } from './settings.js';

const fixtureText = (name: string) => readFileSync(new URL(`../test/fixtures/pods/${name}`, import.meta.url), 'utf8');
const multi = ['# the namespace first\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: observability\n', fixtureText('edot-daemonset-helm.yaml'), fixtureText('nginx.yaml')].join('---\n');
type Doc = { kind: string; spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: Array<{ name: string; args?: string[] }>; initContainers?: Array<{ name: string }> } } } };

describe('edot-ta inject (pure core)', () => {
  const { text, outcomes } = injectYaml(multi, defaultInjectSettings());
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Doc);

  it('injects the DaemonSet pod template and leaves other documents as they were (comments too)', () => {
    expect(docs.map((d) => d.kind)).toEqual(['Namespace', 'DaemonSet', 'Pod']);
    const template = docs[1]!.spec.template;
    expect(template.spec.containers.map((c) => c.name)).toEqual(['edot-ta', 'edot-collector']);
    expect(template.spec.initContainers?.map((c) => c.name)).toEqual(['edot-ta-render']);
    expect(template.spec.containers[1]!.args).toEqual(['--config', '/edot-ta/0-otel.yaml', '--set=service.telemetry.logs.level=info']);
    expect(JSON.parse(template.metadata.annotations['edot-ta.io/status']!).group).toBe('edot-collector');
    expect(text.startsWith('# the namespace first\n')).toBe(true);
    expect(text).toContain('---\n# A plain EDOT collector DaemonSet installed with Helm'); // the injected document keeps its comment
    expect(docs[2]).toEqual(parse(fixtureText('nginx.yaml')));
    expect(outcomes.map((o) => [o.object, o.injected])).toEqual([['DaemonSet observability/edot-collector', true], ['Pod shop/web-6c9f8b7d5-abcde', false]]);
  });

  it('prints YAML without anchors or aliases (kubectl apply-able as is)', () => {
    expect(text).not.toMatch(/[&*]a\d/);
  });

  it('is idempotent: injecting its own output changes nothing', () => {
    const again = injectYaml(text, defaultInjectSettings());
    expect(again.outcomes.every((o) => !o.injected)).toBe(true);
    expect(parseAllDocuments(again.text).map((d) => d.toJS())).toEqual(docs);
  });

  it('handles kind: List (kubectl get -o yaml) and a bare Pod', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: [parse(fixtureText('edot-daemon-operator.yaml'))] };
    const out = parse(injectYaml(JSON.stringify(list), defaultInjectSettings()).text) as { items: Array<{ spec: { containers: Array<{ name: string }> } }> };
    expect(out.items[0]!.spec.containers.map((c) => c.name)).toEqual(['edot-ta', 'otc-container']);
  });

  it('reads and writes YAML as kubectl does (1.1): octal modes, "yes" strings and merge keys keep their meaning', () => {
    const daemonSet = fixtureText('edot-daemonset-helm.yaml')
      .replace(/^(\s*)volumes:\n/m, `$1volumes:\n$1  - name: probe-config\n$1    configMap: { name: probe, defaultMode: 0644, items: [{ key: a, path: a, mode: 0400 }] }\n`)
      .replace(/^metadata:\n/m, 'metadata:\n  annotations:\n    enabled: "yes"\n');
    expect(daemonSet).toContain('defaultMode: 0644');
    const { text } = injectYaml(daemonSet, defaultInjectSettings());
    const read = parse(text, { version: '1.1' }) as { metadata: { annotations: Record<string, unknown> }; spec: { template: { spec: { volumes: Array<{ name: string; configMap?: { defaultMode?: number; items?: Array<{ mode?: number }> } }> } } } };
    const volume = read.spec.template.spec.volumes.find((v) => v.name === 'probe-config');
    expect(volume?.configMap?.defaultMode).toBe(0o644);
    expect(volume?.configMap?.items?.[0]?.mode).toBe(0o400);
    expect(read.metadata.annotations.enabled).toBe('yes');
    expect(text).toMatch(/enabled: "yes"/);
  });

  it('throws on YAML it cannot parse, naming the document', () => {
    expect(() => injectYaml('a: 1\n---\nb: [\n', defaultInjectSettings())).toThrow(/document 2/);
  });
});

describe('edot-ta inject (command)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads -f, writes -o, reports per object on stderr, and takes settings flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inject-'));
    writeFileSync(join(dir, 'in.yaml'), multi);
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    const code = await run(['-f', join(dir, 'in.yaml'), '-o', join(dir, 'out.yaml'), '--sidecar-port', '29111', '--kubernetes-version', 'v1.30.2']);
    expect(code).toBe(0);
    const ds = parseAllDocuments(readFileSync(join(dir, 'out.yaml'), 'utf8'))[1]!.toJS() as Doc;
    // 1.30 → native sidecar: the sidecar is an init container, the collector stays the only container.
    expect(ds.spec.template.spec.initContainers?.map((c) => c.name)).toEqual(['edot-ta-render', 'edot-ta']);
    expect(JSON.stringify(ds)).toContain('127.0.0.1:29111');
    expect(errors).toContain('edot-ta inject: DaemonSet observability/edot-collector: injected');
    expect(errors.join('\n')).toMatch(/Pod shop\/web-6c9f8b7d5-abcde: not injected \(not a collector pod/);
  });

  it('fails clearly on a missing file (1), bad YAML (1) and bad flags (2)', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run(['-f', '/nonexistent/x.yaml'])).toBe(1);
    const dir = mkdtempSync(join(tmpdir(), 'inject-'));
    writeFileSync(join(dir, 'bad.yaml'), 'a: [\n');
    expect(await run(['-f', join(dir, 'bad.yaml')])).toBe(1);
    expect(await run([])).toBe(2);
    expect(await run(['-f', 'x', '--sidecar-port', 'abc'])).toBe(2);
    expect(await run(['-f', 'x', '--kubernetes-version', 'latest'])).toBe(2);
  });
});
