// The install manifests against the real apiserver: every object is accepted by server-side
// validation, and the webhook's RBAC grants exactly what it needs (its own Secret and its
// own MutatingWebhookConfiguration), checked by the apiserver's authorizer.
import { readFileSync } from 'node:fs';
import { AuthorizationV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { clients, kubectl } from '../harness/context.js';

function manifest(file: string): KubernetesObject[] {
  const text = readFileSync(new URL(`../../manifests/${file}`, import.meta.url), 'utf8');
  return parseAllDocuments(text).map((doc) => doc.toJS() as KubernetesObject);
}

describe('install manifests', () => {
  const authorization = clients().kc.makeApiClient(AuthorizationV1Api);
  const applied: string[] = [];
  // Cluster-scoped objects only: the test cluster has no namespace controller, so a deleted
  // namespace would stay Terminating for every later test that needs it.
  afterAll(async () => {
    for (const kindName of applied.reverse()) await kubectl(['delete', '--ignore-not-found', '--wait=false', ...kindName.split(' ')]).catch(() => {});
  });

  it('are accepted by the API server (server-side dry run)', async () => {
    const served = new Set((await kubectl(['api-versions'])).trim().split('\n'));
    const objects = manifest('webhook.yaml').concat(manifest('sidecar-rbac.yaml'));
    // The current server serves every API version we ship (policy/v1 PodDisruptionBudget included).
    expect(objects.filter((o) => !served.has(o.apiVersion ?? '')).map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([]);
    const checkable = objects;
    // A dry run does not create namespaces; the namespaced objects need them to exist.
    for (const namespace of ['edot-ta-system', 'opentelemetry-operator-system']) {
      await kubectl(['create', 'namespace', namespace]).catch((err: Error) => {
        if (!err.message.includes('AlreadyExists')) throw err;
      });
    }
    const out = await kubectl(['apply', '--dry-run=server', '-o', 'name', '-f', '-'], { input: checkable.map((o) => stringify(o)).join('---\n') });
    expect(out.trim().split('\n')).toHaveLength(checkable.length);
    expect(out).toContain('mutatingwebhookconfiguration.admissionregistration.k8s.io/edot-ta');
    expect(out).toContain('deployment.apps/edot-ta-webhook');
    expect(out).toContain('poddisruptionbudget.policy/edot-ta-webhook');
  });

  it('give the webhook ServiceAccount its own Secret and webhook configuration, nothing more', async () => {
    const rbacOnly = manifest('webhook.yaml').filter((o) => ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind ?? ''));
    await kubectl(['apply', '-f', '-'], { input: rbacOnly.map((o) => stringify(o)).join('---\n') });
    applied.push('clusterrolebinding edot-ta-webhook', 'clusterrole edot-ta-webhook');

    const can = async (verb: string, group: string, resource: string, name?: string, namespace?: string) => {
      const review = await authorization.createSubjectAccessReview({
        body: {
          spec: {
            user: 'system:serviceaccount:edot-ta-system:edot-ta-webhook',
            groups: ['system:serviceaccounts', 'system:serviceaccounts:edot-ta-system', 'system:authenticated'],
            resourceAttributes: { verb, group, resource, name, namespace },
          },
        },
      });
      return review.status?.allowed === true;
    };
    expect(await can('get', '', 'secrets', 'edot-ta-webhook-tls', 'edot-ta-system')).toBe(true);
    expect(await can('update', '', 'secrets', 'edot-ta-webhook-tls', 'edot-ta-system')).toBe(true);
    expect(await can('create', '', 'secrets', undefined, 'edot-ta-system')).toBe(true);
    expect(await can('patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'edot-ta')).toBe(true);
    // Least privilege: not other Secrets, not other webhook configurations, not other namespaces.
    expect(await can('get', '', 'secrets', 'some-other-secret', 'edot-ta-system')).toBe(false);
    expect(await can('get', '', 'secrets', 'edot-ta-webhook-tls', 'default')).toBe(false);
    expect(await can('patch', 'admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'istio-sidecar-injector')).toBe(false);
  });
});
