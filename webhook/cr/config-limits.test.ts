// The parse limits for a CR's spec.config: every real collector config is far inside them, the
// bombs from the hardening review are refused by the linear pre-scan before any parse.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { configLimits, configTextOverLimits } from './config-limits.js';

const realConfigs = ['kube-stack-default.collectors.yaml', 'kube-stack-daemonset-prometheus-presets.collectors.yaml', 'kube-stack-prometheus-otel.collectors.yaml', 'kube-stack-cloud-demo.collectors.yaml', 'kube-stack-isolated-multicollector-deployment.collectors.yaml'].flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(`../../../shared/real-configs/${file}`, import.meta.url), 'utf8')).map((doc) => {
    const cr = doc.toJS() as { metadata?: { name?: string }; spec?: { config?: unknown } };
    const config = cr.spec?.config;
    return [`${file} ${cr.metadata?.name}`, typeof config === 'string' ? config : stringify(config)] as const;
  }),
).filter(([, text]) => text.length > 10);

describe('configTextOverLimits', () => {
  it.each(realConfigs)('accepts the real config %s', (_name, text) => {
    expect(configTextOverLimits(text)).toBeUndefined();
  });

  it.each([
    ['40,000 keys', 'receivers:\n' + Array.from({ length: 40_000 }, (_, i) => `  k${i}: v`).join('\n'), /more than 10000 keys|characters/],
    ['20,000 keys in one flow mapping', 'receivers: {' + Array.from({ length: 20_000 }, (_, i) => `k${i}: v`).join(', ') + '}', /more than 10000 keys/],
    ['350k nested flow sequences', 'receivers: ' + '['.repeat(350_000) + ']'.repeat(350_000), /characters/],
    ['1,000 nested flow sequences', 'receivers: ' + '['.repeat(1_000) + ']'.repeat(1_000), /flow collections nest deeper than 64/],
    ['an alias bomb', 'a: &a0 [x]\n' + Array.from({ length: 2_000 }, (_, i) => `b${i}: &a${i + 1} [*a${i}, *a${i}]`).join('\n'), /more than 1000 anchors and aliases/],
    ['deep block nesting', Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'), /indented more than 256 columns/],
  ])('refuses %s', (_name, text, reason) => {
    expect(configTextOverLimits(text)).toMatch(reason);
  });

  it('does not count what quotes and comments hide, nor globs and apostrophes in plain scalars', () => {
    const text = ['receivers:', '  prometheus:', "    note: it's a*b", '    files: [/conf/*.json]', `    quoted: "${'['.repeat(100)}: *x &y"`, `    # ${'['.repeat(100)}`].join('\n');
    expect(configTextOverLimits(text, { ...configLimits, maxFlowDepth: 2, maxAnchorsAndAliases: 0, maxKeys: 5 })).toBeUndefined();
  });
});
