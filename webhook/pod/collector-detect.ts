// Which pods are collectors, and which of their containers runs the collector.
// Pure: a pod and the settings in, a decision out.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { InjectSettings, LabelRequirement } from '../types.js';

export type CollectorKind = 'elastic-agent-otel' | 'collector-image' | 'operator-selector';

export type CollectorMatch =
  | { found: true; containerIndex: number; container: V1Container; kind: CollectorKind; warnings: string[] }
  | { found: false; reason: string };

/** The image without tag or digest: `docker.elastic.co/elastic-agent/elastic-agent:9.1.0` → `docker.elastic.co/elastic-agent/elastic-agent`. */
export function imageRepository(image: string): string {
  const withoutDigest = image.split('@')[0] ?? image;
  const lastSlash = withoutDigest.lastIndexOf('/');
  const lastColon = withoutDigest.lastIndexOf(':');
  // A colon after the last slash is a tag; one before it belongs to a registry host:port.
  return lastColon > lastSlash ? withoutDigest.slice(0, lastColon) : withoutDigest;
}

/** `*` matches any run of characters (including `/`); everything else is literal; whole-string match. */
export function globMatches(pattern: string, text: string): boolean {
  let compiled = globCache.get(pattern);
  if (!compiled) {
    const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
    compiled = new RegExp(`^${escaped.join('.*')}$`);
    if (globCache.size < 1000) globCache.set(pattern, compiled); // patterns come from settings: a handful
  }
  return compiled.test(text);
}

// Compiling the patterns on every admission review cost more than the rest of detection.
const globCache = new Map<string, RegExp>();

export function imageMatches(image: string | undefined, patterns: string[]): boolean {
  if (!image) return false;
  const repository = imageRepository(image);
  return patterns.some((pattern) => globMatches(pattern, repository));
}

export function labelsMatch(labels: Record<string, string> | undefined, selector: LabelRequirement[]): boolean {
  if (selector.length === 0) return false; // an empty selector must not make every pod a collector
  const have = labels ?? {};
  return selector.every((req) => {
    const value = have[req.key];
    switch (req.operator) {
      case 'Equals':
        return value === req.value;
      case 'NotEquals':
        return value !== req.value;
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
    }
  });
}

/** elastic-agent runs the collector only in otel mode: ELASTIC_AGENT_OTEL=true (entrypoint runs `elastic-agent otel "$@"`) or an explicit `otel` subcommand. */
export function elasticAgentInOtelMode(container: V1Container): boolean {
  const otelEnv = container.env?.find((env) => env.name === 'ELASTIC_AGENT_OTEL');
  // kube-stack values write it as '"true"' (quotes inside the string): accept either.
  if (otelEnv?.value?.replace(/^["']|["']$/g, '').toLowerCase() === 'true') return true;
  return [...(container.command ?? []), ...(container.args ?? [])].includes('otel');
}

export function findCollectorContainer(pod: V1Pod, settings: InjectSettings): CollectorMatch {
  const containers = pod.spec?.containers ?? [];
  const matches: Array<{ index: number; kind: CollectorKind }> = [];
  let agentNotOtel: string | undefined;
  containers.forEach((container, index) => {
    if (imageMatches(container.image, settings.elasticAgentImagePatterns)) {
      if (elasticAgentInOtelMode(container)) matches.push({ index, kind: 'elastic-agent-otel' });
      else agentNotOtel = container.name;
    } else if (imageMatches(container.image, settings.collectorImagePatterns)) {
      matches.push({ index, kind: 'collector-image' });
    }
  });
  if (matches.length === 0 && labelsMatch(pod.metadata?.labels, settings.collectorPodSelector)) {
    const byName = containers.findIndex((c) => settings.collectorContainerNames.includes(c.name));
    if (byName >= 0) matches.push({ index: byName, kind: 'operator-selector' });
    else if (containers.length === 1) matches.push({ index: 0, kind: 'operator-selector' });
    else return { found: false, reason: `pod matches the collector selector but no container is named ${settings.collectorContainerNames.join(' or ')}` };
  }
  const first = matches[0];
  if (!first) {
    if (agentNotOtel) return { found: false, reason: `container ${agentNotOtel} runs elastic-agent without ELASTIC_AGENT_OTEL=true (not a collector)` };
    return { found: false, reason: 'not a collector pod (no collector image, no collector labels)' };
  }
  const container = containers[first.index]!;
  const warnings = matches.slice(1).map((m) => `edot-ta: container ${containers[m.index]!.name} also looks like a collector; only ${container.name} is wired to the sidecar`);
  return { found: true, containerIndex: first.index, container, kind: first.kind, warnings };
}
