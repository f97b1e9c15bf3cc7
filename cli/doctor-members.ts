// `edot-ta doctor`, per collector group, from what its members publish on their Leases (no
// network access to the pods): the targets each serves, jobs whose relabeling drops everything
// (and by which rule), the jobs render left in the collector or removed, the monitors and scrape
// configs skipped; Leases of pods that no longer exist; and in pod scope `node`, which member
// watches the pods of each node without a collector. Pure: doctor.ts gathers the snapshot.
import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import { nodeCoverers, type Member } from '../sidecar/sharding/assignment.js';
import { leavingAnnotation, nodeAnnotation, podAnnotation, reportAnnotation } from '../sidecar/sharding/lease-record.js';
import { parseMemberReport, type MemberReport } from '../sidecar/serve/member-report.js';
import { apiTokenPath, defaultSidecarPort } from '../contract/names.js';
import { defaultPodScope, sidecarSubcommands, type PodScope } from '../contract/sidecar.js';
import { parseServeFlags } from '../sidecar/serve/serve-cli.js';
import { groupOfLease, groupOfPod, isLive, sidecarOf, type Finding } from './doctor-checks.js';

export interface MembersSnapshot {
  leases: V1Lease[];
  /** Injected and not injected collector pods of the opted-in namespaces. */
  collectorPods: V1Pod[];
  optedInNamespaces: string[];
  /** Every node's name; absent when doctor may not list nodes. */
  nodes?: string[] | undefined;
  nowMs: number;
}

interface LiveMember {
  lease: string;
  pod: string;
  node: string;
  report: MemberReport | undefined;
}

const check = 'members';

export function diagnoseMembers(snapshot: MembersSnapshot): Finding[] {
  const groups = new Map<string, LiveMember[]>();
  const findings: Finding[] = [];
  const podNames = new Set(snapshot.collectorPods.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`));
  for (const lease of snapshot.leases) {
    if (!isLive(lease, snapshot.nowMs)) continue; // stale ones are the membership check's
    const annotations = lease.metadata?.annotations ?? {};
    const namespace = lease.metadata?.namespace ?? '';
    const pod = annotations[podAnnotation] ?? '';
    const group = groupOfLease(lease);
    if (pod && snapshot.optedInNamespaces.includes(namespace) && !podNames.has(`${namespace}/${pod}`)) {
      findings.push({ level: 'warn', check, message: `group ${group}: Lease ${lease.metadata?.name} is renewed for pod ${pod}, which does not exist (on node ${annotations[nodeAnnotation] ?? '?'})`, hint: `a sidecar outside its pod, or a pod that is not a collector of ${namespace}: kubectl get lease ${lease.metadata?.name} -n ${namespace} -o yaml` });
    }
    if (annotations[leavingAnnotation] === 'true') continue;
    const members = groups.get(group) ?? [];
    members.push({ lease: lease.metadata?.name ?? '?', pod, node: annotations[nodeAnnotation] ?? '', report: parseMemberReport(annotations[reportAnnotation]) });
    groups.set(group, members);
  }
  for (const [group, members] of groups) {
    findings.push(...reportFindings(group, members));
    if (scopeOf(group, snapshot.collectorPods) === 'node' && snapshot.nodes) findings.push(...coverageFindings(group, members, snapshot.nodes));
  }
  return findings;
}

/** The group's pod scope, read from its sidecars' command lines with the sidecar's own flag parser. */
function scopeOf(group: string, pods: V1Pod[]): PodScope {
  const pod = pods.find((p) => groupOfPod(p) === group);
  const sidecar = pod && sidecarOf(pod);
  if (!sidecar) return defaultPodScope;
  const argv = [...(sidecar.command ?? []), ...(sidecar.args ?? [])];
  const at = argv.findIndex((arg, i) => arg === sidecarSubcommands.serve[0] && argv[i + 1] === sidecarSubcommands.serve[1]);
  if (at < 0) return defaultPodScope;
  try {
    return parseServeFlags(argv.slice(at + 2))['pod-scope'] as PodScope;
  } catch {
    return defaultPodScope; // flags this version does not know: the sidecar's default
  }
}

function reportFindings(group: string, members: LiveMember[]): Finding[] {
  const reporting = members.filter((m): m is LiveMember & { report: MemberReport } => m.report !== undefined);
  if (reporting.length === 0) return [];
  const findings: Finding[] = [];
  const served = reporting.map((m) => m.report.served);
  const jobs = new Map<string, Array<{ member: LiveMember; stats: MemberReport['jobs'][number] }>>();
  for (const member of reporting) for (const stats of member.report.jobs) jobs.set(stats.job, [...(jobs.get(stats.job) ?? []), { member, stats }]);
  findings.push({
    level: 'ok',
    check,
    message: `group ${group}: ${reporting.length} member(s) serve ${served.reduce((a, b) => a + b, 0)} target(s) in ${jobs.size} job(s) (per member ${Math.min(...served)}–${Math.max(...served)})${reporting.length < members.length ? `; ${members.length - reporting.length} member(s) publish no report yet` : ''}`,
  });
  for (const [job, seen] of [...jobs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const servedByGroup = seen.reduce((n, s) => n + s.stats.served, 0);
    // The member that saw the most dropped targets shows which rules drop them.
    const busiest = seen.reduce((a, b) => (b.stats.dropped > a.stats.dropped ? b : a));
    const rules = Object.entries(busiest.stats.droppedBy).sort(([, a], [, b]) => b - a).map(([rule, n]) => `${rule}: ${n}`).join(', ');
    if (seen.every((s) => s.stats.kept === 0)) {
      findings.push(
        busiest.stats.dropped > 0
          ? { level: 'warn', check, message: `group ${group}: job ${job} serves nothing: relabeling drops every target it discovers (${busiest.stats.dropped} on ${busiest.member.pod}, by ${rules})`, hint: `see each target and the rule that dropped it: kubectl exec ${busiest.member.pod} -c edot-ta -- sh -c 'wget -qO- --header "Authorization: Bearer $(cat ${apiTokenPath})" 127.0.0.1:${defaultSidecarPort}/debug/targets'` }
          : { level: 'warn', check, message: `group ${group}: job ${job} discovers no target on any member`, hint: 'check its selector, namespaces and the sidecars\' RBAC (doctor\'s rbac findings)' },
      );
    } else {
      findings.push({ level: 'ok', check, message: `group ${group}: job ${job}: ${servedByGroup} target(s) served${busiest.stats.dropped > 0 ? `, relabeling drops ${busiest.stats.dropped} on ${busiest.member.pod} (${rules})` : ''}` });
    }
  }
  // What render left in the collector (same config on every member: named once per group).
  const once = <T extends { job: string }>(lists: T[][]) => [...new Map(lists.flat().map((item) => [item.job, item])).values()];
  for (const left of once(reporting.map((m) => m.report.leftInCollector))) {
    const nodeLocal = left.reason.includes('node-local by construction');
    findings.push({
      level: nodeLocal ? 'ok' : 'warn',
      check,
      message: `group ${group}: job ${left.job} stays in the collector: ${left.reason}`,
      ...(nodeLocal ? {} : { hint: 'every collector of the group scrapes it itself, as before edot-ta; to share it, use a discovery the sidecar runs (static, kubernetes, dns, http, file on a ConfigMap volume)' }),
    });
  }
  for (const removed of once(reporting.map((m) => m.report.removed))) {
    findings.push({ level: 'warn', check, message: `group ${group}: job ${removed.job} was removed from the collector config: ${removed.reason}`, hint: 'fix the job in the collector config; the collector would have refused to start with it' });
  }
  const skipped = [...new Map(reporting.flatMap((m) => m.report.skipped).map((s) => [`${s.kind}|${s.name}`, s])).values()];
  for (const s of skipped) {
    findings.push({ level: 'warn', check, message: `group ${group}: ${s.kind === 'monitor' ? 'monitor' : 'scrape config'} ${s.name} is skipped: ${s.message}`, hint: 'fix it; the sidecars pick up the change without a restart (kubectl describe pod shows the same as an Event)' });
  }
  if (reporting.some((m) => m.report.truncated)) findings.push({ level: 'ok', check, message: `group ${group}: some member reports were cut to their size bound; /debug/targets on a member has everything` });
  return findings;
}

function coverageFindings(group: string, members: LiveMember[], nodes: string[]): Finding[] {
  const view: Member[] = members.filter((m) => m.pod && m.node).map((m) => ({ name: m.pod, nodeName: m.node }));
  if (view.length === 0) return [];
  const coverers = nodeCoverers(view, nodes);
  if (coverers.size === 0) return [{ level: 'ok', check, message: `group ${group}: every one of the ${nodes.length} node(s) has a member watching its own pods` }];
  const byMember = new Map<string, string[]>();
  for (const [node, member] of coverers) byMember.set(member, [...(byMember.get(member) ?? []), node]);
  const listed = [...byMember].sort(([a], [b]) => (a < b ? -1 : 1)).map(([member, covered]) => `${member} (${covered.length}: ${covered.sort().slice(0, 5).join(', ')}${covered.length > 5 ? ', …' : ''})`);
  return [{ level: 'ok', check, message: `group ${group}: ${coverers.size} of ${nodes.length} node(s) have no collector; their pods are watched by ${listed.join('; ')}` }];
}
