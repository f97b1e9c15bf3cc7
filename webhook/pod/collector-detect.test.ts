import { describe, expect, it } from 'vitest';
import { elasticAgentInOtelMode, globMatches, imageMatches, imageRepository, labelsMatch } from './collector-detect.js';
import { defaultCollectorImagePatterns, defaultElasticAgentImagePatterns } from '../settings.js';

describe('collector detection', () => {
  it('strips tags and digests but not registry ports', () => {
    expect(imageRepository('docker.elastic.co/elastic-agent/elastic-agent:9.1.3')).toBe('docker.elastic.co/elastic-agent/elastic-agent');
    expect(imageRepository('registry:5000/otel/opentelemetry-collector-contrib')).toBe('registry:5000/otel/opentelemetry-collector-contrib');
    expect(imageRepository('registry:5000/otel/opentelemetry-collector-contrib:0.115.1@sha256:abc')).toBe('registry:5000/otel/opentelemetry-collector-contrib');
  });

  it('matches the default collector images and not look-alikes', () => {
    const yes = [
      'otel/opentelemetry-collector-contrib:0.115.1',
      'otel/opentelemetry-collector-k8s:0.115.1',
      'docker.io/otel/opentelemetry-collector:0.115.1',
      'ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:0.115.1',
      'docker.elastic.co/elastic-agent/elastic-otel-collector:9.1.3',
    ];
    for (const image of yes) expect(imageMatches(image, defaultCollectorImagePatterns), image).toBe(true);
    for (const image of ['nginx:1.27', 'otel/demo:1.0', 'prom/prometheus:v2.42.0']) expect(imageMatches(image, defaultCollectorImagePatterns), image).toBe(false);
    expect(imageMatches('docker.elastic.co/elastic-agent/elastic-agent:8.19.7', defaultElasticAgentImagePatterns)).toBe(true);
    expect(imageMatches('docker.elastic.co/elastic-agent/elastic-agent-complete:8.19.7', defaultElasticAgentImagePatterns)).toBe(true);
  });

  it('treats glob metacharacters other than * literally', () => {
    expect(globMatches('a.b/*', 'a.b/c')).toBe(true);
    expect(globMatches('a.b/*', 'axb/c')).toBe(false);
  });

  it('sees elastic-agent otel mode from the env (quoted or not) or an otel subcommand', () => {
    expect(elasticAgentInOtelMode({ name: 'a', env: [{ name: 'ELASTIC_AGENT_OTEL', value: '"true"' }] })).toBe(true);
    expect(elasticAgentInOtelMode({ name: 'a', env: [{ name: 'ELASTIC_AGENT_OTEL', value: 'false' }] })).toBe(false);
    expect(elasticAgentInOtelMode({ name: 'a', args: ['otel', '--config', 'x'] })).toBe(true);
    expect(elasticAgentInOtelMode({ name: 'a', args: ['run'] })).toBe(false);
  });

  it('never matches every pod with an empty selector', () => {
    expect(labelsMatch({ a: 'b' }, [])).toBe(false);
    expect(labelsMatch({ a: 'b' }, [{ key: 'a', operator: 'Equals', value: 'b' }, { key: 'c', operator: 'DoesNotExist' }])).toBe(true);
    expect(labelsMatch(undefined, [{ key: 'a', operator: 'NotEquals', value: 'b' }])).toBe(true);
  });
});
