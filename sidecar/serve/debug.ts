// /debug/targets: every discovered target with its labels before and after relabeling and why it
// was kept or dropped. Rebuilt from the caches on request (debug traffic is rare), so the engine
// keeps nothing per target for it. Scrape config secrets never appear here: only labels.
import { relabel, type Labels, type RelabelRule } from '../relabel/relabel.js';
import { finalLabels, nodeOf, type TargetEngine } from '../targets/targets.js';

export interface DebugTarget {
  job: string;
  group: string;
  state: 'kept' | 'dropped';
  /** For kept targets: whether this sidecar's shard serves it to its collector. */
  served?: boolean;
  key?: string;
  reason: string;
  discoveredLabels: Labels;
  labels?: Labels;
}

export function debugTargets(engine: TargetEngine): { jobs: Record<string, { kept: number; dropped: number; targets: DebugTarget[] }> } {
  const jobs: Record<string, { kept: number; dropped: number; targets: DebugTarget[] }> = {};
  for (const job of engine.jobNames()) jobs[job] = { kept: 0, dropped: 0, targets: [] };
  for (const { job, rules, rawRules, defaults, groupKey, group } of engine.debugGroups()) {
    const entry = (jobs[job] ??= { kept: 0, dropped: 0, targets: [] });
    for (const target of group.targets) {
      const discoveredLabels: Labels = { ...group.labels, ...target };
      const result = finalLabels(discoveredLabels, rules, defaults);
      if ('reason' in result) {
        entry.dropped++;
        entry.targets.push({ job, group: groupKey, state: 'dropped', reason: whyDropped(discoveredLabels, rules, rawRules, defaults, result.reason), discoveredLabels });
      } else {
        entry.kept++;
        const nodeName = nodeOf(discoveredLabels);
        const served = engine.ownsTarget({ job, key: result.key, ...(nodeName ? { nodeName } : {}), labels: discoveredLabels });
        entry.targets.push({ job, group: groupKey, state: 'kept', served, key: result.key, reason: 'kept by relabel_configs', discoveredLabels, labels: result.labels });
      }
    }
  }
  return { jobs };
}

/** Replays the rules one at a time to name the one that dropped the target. */
function whyDropped(discovered: Labels, rules: RelabelRule[], rawRules: unknown[], defaults: Labels, fallback: string): string {
  let labels: Labels | null = { ...defaults, ...discovered };
  for (let i = 0; i < rules.length; i++) {
    labels = relabel(labels, [rules[i] as RelabelRule]);
    if (labels === null) return `dropped by relabel_configs[${i}]: ${JSON.stringify(rawRules[i] ?? {})}`;
  }
  return fallback;
}
