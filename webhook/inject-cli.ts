// `edot-ta inject -f FILE|-`: the webhook's pod mutation, offline, on Pod / DaemonSet /
// Deployment / StatefulSet / ReplicaSet YAML (multi-document, and `kind: List`), printed to
// stdout — like `istioctl kube-inject`. For clusters without the webhook, GitOps diffs, and
// seeing exactly what the webhook would do. Other documents pass through unchanged.
import { readFileSync, writeFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';
import { Document, parseAllDocuments } from 'yaml';
import { parseFlags, UsageError } from '../common/args.js';
import { mutatePod } from './pod/pod-mutation.js';
import { injectSettingsFlagOptions, parseInjectSettings, resolveNativeSidecars } from './settings.js';
import type { InjectSettings } from './types.js';
import { describeYamlError } from '../common/yaml-errors.js';

const usage = `Usage: edot-ta inject -f FILE|- [-o FILE] [--kubernetes-version 1.29] [webhook settings flags]

Applies the edot-ta pod mutation to Pods and to the pod templates of DaemonSets, Deployments,
StatefulSets and ReplicaSets, and prints the result. --native-sidecars auto (the default)
resolves from --kubernetes-version (>= 1.29: native sidecar init container), else false.
Settings flags: ${Object.keys(injectSettingsFlagOptions).map((f) => `--${f}`).join(' ')}`;

const workloadKinds = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'ReplicaSet']);

export interface InjectOutcome {
  /** `Kind namespace/name` for messages. */
  object: string;
  injected: boolean;
  reason?: string;
  warnings: string[];
}

type KubeObject = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string }; spec?: { template?: { metadata?: V1Pod['metadata']; spec?: V1Pod['spec'] } }; items?: unknown[] };

/** Mutates one parsed object in place-free fashion; returns the new object and what happened. */
export function injectObject(object: unknown, settings: InjectSettings, outcomes: InjectOutcome[]): unknown {
  if (!object || typeof object !== 'object' || Array.isArray(object)) return object;
  const kube = object as KubeObject;
  const label = `${kube.kind ?? '?'} ${kube.metadata?.namespace ? `${kube.metadata.namespace}/` : ''}${kube.metadata?.name ?? '?'}`;
  if (kube.kind === 'List' && Array.isArray(kube.items)) return { ...kube, items: kube.items.map((item) => injectObject(item, settings, outcomes)) };
  if (kube.kind === 'Pod') {
    const result = mutatePod(kube as V1Pod, settings, { namespace: kube.metadata?.namespace });
    outcomes.push({ object: label, injected: result.injected, reason: result.reason, warnings: result.warnings });
    return result.pod;
  }
  if (kube.kind && workloadKinds.has(kube.kind) && kube.spec?.template) {
    const template = kube.spec.template;
    const pod: V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: template.metadata ?? {}, spec: template.spec };
    const result = mutatePod(pod, settings, { namespace: kube.metadata?.namespace, workload: { kind: kube.kind, name: kube.metadata?.name ?? 'default' } });
    outcomes.push({ object: label, injected: result.injected, reason: result.reason, warnings: result.warnings });
    if (!result.injected) return object;
    return { ...kube, spec: { ...kube.spec, template: { ...template, metadata: result.pod.metadata, spec: result.pod.spec } } };
  }
  return object;
}

/** Pure core of the command: YAML text in, YAML text out. Throws on YAML it cannot parse. */
export function injectYaml(text: string, settings: InjectSettings): { text: string; outcomes: InjectOutcome[] } {
  const outcomes: InjectOutcome[] = [];
  // YAML 1.1, as kubectl reads manifests: `0644` is octal, `yes` a boolean, `<<` merges.
  const documents = parseAllDocuments(text, { prettyErrors: false, version: '1.1' });
  if (!Array.isArray(documents)) return { text, outcomes }; // empty stream
  const out: string[] = [];
  documents.forEach((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`document ${index + 1}: ${describeYamlError(doc.errors[0], text)}`);
    if (doc.contents === null) return;
    const before = outcomes.length;
    const original: unknown = doc.toJS();
    const mutated = injectObject(original, settings, outcomes);
    const changed = outcomes.slice(before).some((o) => o.injected);
    // Untouched documents keep their comments and formatting; the separators are ours.
    if (doc.directives) doc.directives.docStart = null;
    if (!changed) {
      out.push(doc.toString({ lineWidth: 0 }));
      return;
    }
    // Written as YAML 1.1 too, so strings a 1.1 reader would take for something else stay quoted ("yes", "0644").
    const injected = new Document(mutated, { aliasDuplicateObjects: false, version: '1.1' });
    // Keep the document's leading comment (yaml attaches it to the document or its top mapping).
    const contentsComment = doc.contents && 'commentBefore' in doc.contents ? doc.contents.commentBefore : undefined;
    injected.commentBefore = [doc.commentBefore, contentsComment].filter(Boolean).join('\n') || null;
    out.push(injected.toString({ lineWidth: 0 }));
  });
  return { text: out.map((d) => d.replace(/\n*$/, '\n')).join('---\n'), outcomes };
}

export async function run(argv: string[]): Promise<number> {
  let values;
  let settings: InjectSettings;
  try {
    ({ values } = parseFlags(argv, {
      ...injectSettingsFlagOptions,
      filename: { type: 'string', short: 'f' },
      output: { type: 'string', short: 'o' },
      'kubernetes-version': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }));
    if (values.help) {
      console.log(usage);
      return 0;
    }
    if (!values.filename) throw new UsageError('-f FILE (or -f - for stdin) is required');
    settings = parseInjectSettings(values, process.env);
    const version = values['kubernetes-version'];
    if (version !== undefined) {
      const match = version.replace(/^v/, '').match(/^(\d+)\.(\d+)/);
      if (!match) throw new UsageError(`--kubernetes-version: want MAJOR.MINOR like 1.29, got "${version}"`);
      if (settings.nativeSidecarsMode === 'auto') settings.nativeSidecars = resolveNativeSidecars('auto', { major: Number(match[1]), minor: Number(match[2]) });
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`edot-ta inject: ${err.message}\n\n${usage}`);
      return 2;
    }
    throw err;
  }

  let input: string;
  try {
    input = readFileSync(values.filename === '-' ? 0 : values.filename, 'utf8');
  } catch (err) {
    console.error(`edot-ta inject: cannot read ${values.filename}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  let result;
  try {
    result = injectYaml(input, settings);
  } catch (err) {
    console.error(`edot-ta inject: ${values.filename}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  for (const outcome of result.outcomes) {
    console.error(`edot-ta inject: ${outcome.object}: ${outcome.injected ? 'injected' : `not injected (${outcome.reason})`}`);
    for (const warning of outcome.warnings) console.error(`edot-ta inject: ${outcome.object}: warning: ${warning.replace(/^edot-ta: /, '')}`);
  }
  if (values.output) writeFileSync(values.output, result.text);
  else process.stdout.write(result.text);
  return 0;
}
