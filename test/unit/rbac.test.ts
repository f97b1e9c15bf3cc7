// The effective permissions of each ServiceAccount the manifests create or bind, computed from
// the shipped files (bindings → roles → rules) and listed in full: a change that widens them
// must change this list. The e2e suite runs the sidecar under these (test/e2e/secrets.e2e).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

interface Rule { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] }
interface Doc { kind: string; metadata: { name: string; namespace?: string }; rules?: Rule[]; roleRef?: { kind: string; name: string }; subjects?: Array<{ kind: string; name: string; namespace?: string }> }

const load = (path: string) => parseAllDocuments(readFileSync(new URL(`../../manifests/${path}`, import.meta.url), 'utf8')).map((d) => d.toJS() as Doc).filter(Boolean);
const docs = [...load('base/webhook.yaml'), ...load('overlays/kube-stack/sidecar-rbac.yaml')];

/** "verbs on group/resource[names] in scope" for every rule reaching the ServiceAccount. */
function effective(namespace: string, name: string): string[] {
  const lines: string[] = [];
  for (const binding of docs.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding')) {
    if (!binding.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === name && s.namespace === namespace)) continue;
    const role = docs.find((d) => d.kind === binding.roleRef?.kind && d.metadata.name === binding.roleRef?.name && (d.kind === 'ClusterRole' || d.metadata.namespace === binding.metadata.namespace));
    if (!role) throw new Error(`${binding.kind} ${binding.metadata.name} refers to a missing ${binding.roleRef?.kind} ${binding.roleRef?.name}`);
    const scope = binding.kind === 'ClusterRoleBinding' ? 'cluster-wide' : `in ${binding.metadata.namespace}`;
    for (const rule of role.rules ?? []) {
      for (const group of rule.apiGroups ?? ['']) {
        for (const resource of rule.resources ?? []) {
          lines.push(`${[...rule.verbs].sort().join(',')} ${group ? `${group}/` : ''}${resource}${rule.resourceNames ? `[${rule.resourceNames.join(',')}]` : ''} ${scope}`);
        }
      }
    }
  }
  return lines.sort();
}

describe('effective permissions of the shipped ServiceAccounts', () => {
  it('the webhook: its own TLS Secret and its own webhook configuration, nothing more', () => {
    expect(effective('edot-ta-system', 'edot-ta-webhook')).toEqual([
      'create secrets in edot-ta-system',
      'get,patch,update admissionregistration.k8s.io/mutatingwebhookconfigurations[edot-ta] cluster-wide',
      'get,patch,update secrets[edot-ta-webhook-tls] in edot-ta-system',
    ]);
  });

  it('the collector (its sidecar): reads for discovery, writes only Events and Leases in its namespace, no pod writes, no Secrets unless bound per namespace', () => {
    expect(effective('opentelemetry-operator-system', 'opentelemetry-kube-stack-daemon-collector')).toEqual([
      'create,delete,get,list,patch,update,watch coordination.k8s.io/leases in opentelemetry-operator-system',
      'create,patch events in opentelemetry-operator-system',
      'create,patch events.k8s.io/events in opentelemetry-operator-system',
      'get,list,watch discovery.k8s.io/endpointslices cluster-wide',
      'get,list,watch endpoints cluster-wide',
      'get,list,watch monitoring.coreos.com/podmonitors cluster-wide',
      'get,list,watch monitoring.coreos.com/probes cluster-wide',
      'get,list,watch monitoring.coreos.com/scrapeconfigs cluster-wide',
      'get,list,watch monitoring.coreos.com/servicemonitors cluster-wide',
      'get,list,watch namespaces cluster-wide',
      'get,list,watch networking.k8s.io/ingresses cluster-wide',
      'get,list,watch nodes cluster-wide',
      'get,list,watch pods cluster-wide',
      'get,list,watch services cluster-wide',
    ]);
  });

  it('narrows the Lease writes to edot-ta member Leases for exactly that ServiceAccount', () => {
    const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy') as unknown as { spec: { matchConditions: Array<{ expression: string }>; validations: Array<{ expression: string }> } };
    expect(policy.spec.matchConditions[0]!.expression).toContain("'system:serviceaccount:opentelemetry-operator-system:opentelemetry-kube-stack-daemon-collector'");
    expect(policy.spec.validations[0]!.expression).toContain("startsWith('edot-ta-')");
    expect(docs.some((d) => d.kind === 'ValidatingAdmissionPolicyBinding' && (d as unknown as { spec: { policyName: string } }).spec.policyName === 'edot-ta-sidecar-leases')).toBe(true);
  });
});
