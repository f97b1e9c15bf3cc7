// mutateCollectorCR: the pure OpenTelemetryCollector mutation (opentelemetry.io v1alpha1 with a
// YAML string config, v1beta1 with an object config), for CREATE and UPDATE. It makes the CR
// work with edot-ta instead of the central Target Allocator and explains what it could not fix.
import { Document, parseDocument } from 'yaml';
import { configLimits, configTextOverLimits } from './config-limits.js';
import { edotTaVersion } from '../../common/version.js';
import { repairPrometheusReceivers } from './cr-config.js';
import { formatCRStatus } from '../status.js';
import { type CRMutationContext, type CRMutationResult, type CRSettings, type CollectorCR } from '../types.js';
import { disabledPrometheusCR, parsePrometheusCREnv } from '../../contract/prometheus-cr.js';
import { annotations } from '../../contract/names.js';
import { describeYamlError } from '../../common/yaml-errors.js';
import { isObject } from '../../common/json.js';

export const collectorCRGroup = 'opentelemetry.io';
export const collectorCRVersions = ['v1alpha1', 'v1beta1'] as const;

export class CollectorCRParseError extends Error {}

/** Parses an admission object into a CollectorCR, or throws CollectorCRParseError naming the problem. */
export function parseCollectorCR(raw: unknown): CollectorCR {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CollectorCRParseError('object is not a JSON object');
  const cr = raw as Record<string, unknown>;
  const apiVersion = cr.apiVersion;
  if (apiVersion !== `${collectorCRGroup}/v1alpha1` && apiVersion !== `${collectorCRGroup}/v1beta1`) {
    throw new CollectorCRParseError(`apiVersion ${JSON.stringify(apiVersion)} is not opentelemetry.io/v1alpha1 or opentelemetry.io/v1beta1`);
  }
  if (cr.kind !== 'OpenTelemetryCollector') throw new CollectorCRParseError(`kind ${JSON.stringify(cr.kind)} is not OpenTelemetryCollector`);
  const metadata = cr.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new CollectorCRParseError('metadata is not an object');
  const spec = cr.spec ?? {};
  if (typeof spec !== 'object' || Array.isArray(spec)) throw new CollectorCRParseError('spec is not an object');
  const fields = spec as Record<string, unknown>;
  if (fields.mode !== undefined && typeof fields.mode !== 'string') throw new CollectorCRParseError('spec.mode is not a string');
  if (fields.targetAllocator !== undefined && fields.targetAllocator !== null && !isObject(fields.targetAllocator)) throw new CollectorCRParseError('spec.targetAllocator is not an object');
  if (fields.podAnnotations !== undefined && fields.podAnnotations !== null && (!isObject(fields.podAnnotations) || !Object.values(fields.podAnnotations as object).every((v) => typeof v === 'string'))) {
    throw new CollectorCRParseError('spec.podAnnotations is not a map of strings');
  }
  const annotationsField = (metadata as Record<string, unknown>).annotations;
  if (annotationsField !== undefined && annotationsField !== null && !isObject(annotationsField)) throw new CollectorCRParseError('metadata.annotations is not an object');
  return { ...cr, apiVersion, kind: 'OpenTelemetryCollector', metadata, spec } as CollectorCR;
}

export function mutateCollectorCR(cr: CollectorCR, settings: CRSettings, context: CRMutationContext): CRMutationResult {
  const object = structuredClone(cr);
  const spec = object.spec;
  const changes: string[] = [];
  const warnings: string[] = [];
  const name = object.metadata.name ?? '<name>';
  const namespace = object.metadata.namespace;

  // The config first: if it cannot be read, change nothing at all (never guess).
  const taWasEnabled = spec.targetAllocator?.enabled === true;
  const receivers = repairConfig(object, taWasEnabled, changes, warnings);
  if (receivers === 'unparsable') return { object: structuredClone(cr), warnings };

  // mode: immutable in the operator; the TA trap is a CR created without mode (→ deployment).
  if (context.operation === 'CREATE') {
    if (!spec.mode) {
      spec.mode = settings.defaultMode;
      changes.push(`set spec.mode to ${settings.defaultMode} (it was left out; the operator would default to deployment)`);
    }
  } else {
    const oldMode = context.oldObject?.spec?.mode || 'deployment';
    if (!spec.mode) {
      spec.mode = oldMode;
      changes.push(`kept spec.mode ${oldMode} (left out of the update; it cannot change)`);
    } else if (spec.mode !== oldMode) {
      const target = `opentelemetrycollector ${name}${namespace ? ` -n ${namespace}` : ''}`;
      warnings.push(
        `edot-ta: spec.mode cannot change after creation (the operator rejects it): this update asks for "${spec.mode}" but ${name} runs as "${oldMode}", so edot-ta kept "${oldMode}" and let the rest of the update through. ` +
          `To switch to "${spec.mode}", recreate the collector: kubectl delete ${target} && kubectl apply -f <your file> (a short gap in collection), or apply it under a new name and delete the old one afterwards.`,
      );
      spec.mode = oldMode;
    }
  }

  // The central Target Allocator is replaced by the per-pod sidecars; its selectors travel to the pods.
  const ta = spec.targetAllocator;
  if (ta?.enabled === true) {
    ta.enabled = false;
    changes.push('turned off spec.targetAllocator (the edot-ta sidecar in each collector pod takes its place)');
  }
  if (ta?.prometheusCR && typeof ta.prometheusCR === 'object') {
    const value = JSON.stringify(ta.prometheusCR);
    try {
      parsePrometheusCREnv(value);
    } catch (err) {
      warnings.push(`edot-ta: targetAllocator.prometheusCR is not usable by the sidecar (${err instanceof Error ? err.message : String(err)}); pods fall back to the webhook default`);
    }
    if (spec.podAnnotations?.[annotations.prometheusCR] !== value) {
      spec.podAnnotations = { ...(spec.podAnnotations ?? {}), [annotations.prometheusCR]: value };
      changes.push(`copied targetAllocator.prometheusCR to spec.podAnnotations["${annotations.prometheusCR}"] for the sidecars`);
    }
  }

  // No prometheus receiver: nothing for a sidecar to serve, so its pods get none. Undone (only
  // when we set it) once a later update adds a prometheus receiver.
  const receiver = receivers.length > 0;
  const optOut = spec.podAnnotations?.[annotations.inject];
  const optedOutByUs = object.metadata.annotations?.[annotations.noPrometheusReceiver] === 'true';
  if (!receiver && optOut === undefined) {
    spec.podAnnotations = { ...(spec.podAnnotations ?? {}), [annotations.inject]: 'false' };
    object.metadata.annotations = { ...(object.metadata.annotations ?? {}), [annotations.noPrometheusReceiver]: 'true' };
    changes.push(`no prometheus receiver in spec.config: set spec.podAnnotations["${annotations.inject}"] "false" (its pods get no sidecar; add a prometheus receiver to a metrics pipeline and the next rollout is injected)`);
  } else if (receiver && optOut === 'false' && optedOutByUs) {
    const { [annotations.inject]: _inject, ...podAnnotations } = spec.podAnnotations ?? {};
    const { [annotations.noPrometheusReceiver]: _marker, ...metadataAnnotations } = object.metadata.annotations ?? {};
    spec.podAnnotations = podAnnotations;
    object.metadata.annotations = metadataAnnotations;
    changes.push(`the config now has a prometheus receiver: removed the spec.podAnnotations["${annotations.inject}"] "false" edot-ta had set`);
  }
  const taSelection = ta?.prometheusCR && typeof ta.prometheusCR === 'object';
  if (receiver && !taSelection && spec.podAnnotations?.[annotations.prometheusCR] === undefined) {
    // As the operator: without prometheusCR no monitor is used. Without this, several collector
    // CRs of one namespace (kube-stack's daemon, cluster and gateway) would each scrape every monitor.
    spec.podAnnotations = { ...(spec.podAnnotations ?? {}), [annotations.prometheusCR]: JSON.stringify(disabledPrometheusCR) };
    changes.push(`no targetAllocator.prometheusCR: set spec.podAnnotations["${annotations.prometheusCR}"] to monitors off, as the Target Allocator would use none (set targetAllocator.prometheusCR.enabled: true to use PodMonitors/ServiceMonitors)`);
  }

  // Nothing changed (e.g. a reinvocation on our own output): keep the status of the pass that
  // acted; the warnings still reach the user in the admission response.
  if (changes.length === 0 && (warnings.length === 0 || object.metadata.annotations?.[annotations.status] !== undefined)) return { object, warnings };
  object.metadata.annotations = {
    ...(object.metadata.annotations ?? {}),
    [annotations.status]: formatCRStatus({ version: edotTaVersion(), changes, warnings }),
  };
  return { object, warnings };
}

/**
 * Repairs spec.config in place and returns its prometheus receivers after the repair;
 * 'unparsable' means the caller must leave the whole CR alone.
 */
function repairConfig(object: CollectorCR, taWasEnabled: boolean, changes: string[], warnings: string[]): string[] | 'unparsable' {
  const spec = object.spec;
  const version = object.apiVersion.split('/')[1];
  if (spec.config === undefined || spec.config === null) {
    if (taWasEnabled) warnings.push('edot-ta: spec.config is empty; nothing for the target allocator sidecar to serve');
    return [];
  }
  if (typeof spec.config === 'string') {
    if (version === 'v1beta1') warnings.push('edot-ta: v1beta1 spec.config is a string (expected an object); treated as YAML');
    const over = configTextOverLimits(spec.config);
    if (over) {
      warnings.push(`edot-ta: spec.config was not read because ${over}; the collector config is left unchanged and edot-ta cannot wire its prometheus receiver`);
      return 'unparsable';
    }
    // uniqueKeys off: its check is quadratic in a map's size; the collector itself refuses duplicates.
    const doc = parseDocument(spec.config, { prettyErrors: false, merge: true, uniqueKeys: false });
    if (doc.errors.length > 0) {
      warnings.push(`edot-ta: spec.config is not valid YAML (${describeYamlError(doc.errors[0], spec.config)}); the collector is left unchanged and edot-ta cannot wire its prometheus receiver`);
      return 'unparsable';
    }
    let repair;
    let text: string | undefined;
    try {
      repair = repairPrometheusReceivers(doc, taWasEnabled);
      if (repair.changes.length > 0) text = doc.toString({ lineWidth: 0 });
    } catch (err) {
      // The yaml package reports some errors (an alias without its anchor) only when the document is used.
      warnings.push(`edot-ta: spec.config is not valid YAML (${describeYamlError(err, spec.config)}); the collector is left unchanged and edot-ta cannot wire its prometheus receiver`);
      return 'unparsable';
    }
    changes.push(...repair.changes);
    warnings.push(...repair.warnings);
    if (text !== undefined) spec.config = text;
    return repair.receivers;
  }
  if (typeof spec.config !== 'object' || Array.isArray(spec.config)) {
    warnings.push('edot-ta: spec.config is neither a YAML string nor an object; the collector is left unchanged');
    return 'unparsable';
  }
  const nodes = countNodes(spec.config, configLimits.maxKeys * 4);
  if (nodes > configLimits.maxKeys * 4) {
    warnings.push(`edot-ta: spec.config was not read because it has more than ${configLimits.maxKeys * 4} values; the collector config is left unchanged and edot-ta cannot wire its prometheus receiver`);
    return 'unparsable';
  }
  const doc = new Document(spec.config);
  const repair = repairPrometheusReceivers(doc, taWasEnabled);
  changes.push(...repair.changes);
  warnings.push(...repair.warnings);
  if (repair.changes.length > 0) spec.config = doc.toJS() as Record<string, unknown>;
  return repair.receivers;
}

/** Values in a JSON tree, counting stops just past `limit` (the tree's depth is bounded by the request check). */
function countNodes(value: unknown, limit: number): number {
  let count = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && count <= limit) {
    const node = stack.pop();
    count++;
    if (Array.isArray(node)) stack.push(...node);
    else if (node && typeof node === 'object') stack.push(...Object.values(node));
  }
  return count;
}
