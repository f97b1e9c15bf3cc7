// Shared by the webhook and certs e2e files: the built CLI (plain node, as in the image), the
// certificate a server presents, and the EDOT daemon pod fixture ready to create.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { AdmissionregistrationV1WebhookClientConfig, V1MutatingWebhookConfiguration, V1Pod } from '@kubernetes/client-node';
import { parse, parseAllDocuments } from 'yaml';
import { packageRoot } from '../../../common/version.js';

export const root = packageRoot(); // the repo, also when this runs compiled from dist/ (the demo)
export const mainJs = join(root, 'dist/cli/main.js');
export const fixture = (path: string) => join(root, 'test/fixtures', path);
export const optIn = { 'edot-ta.io/inject': 'enabled' };

export function edotTa(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [mainJs, ...args], { env, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? Number((err as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

/** The product folders the build compiles (tsconfig.build.json). */
const productDirs = ['cli', 'common', 'contract', 'webhook', 'sidecar', 'certs'];

/** Builds dist/ when it is missing or older than any product source; tests run the built CLI in plain node, as the image does. */
export function ensureBuilt(): void {
  const sources = productDirs.flatMap((dir) => readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(root, dir, f)));
  const target = join(root, 'dist/cli/main.js');
  if (existsSync(target) && statSync(target).mtimeMs >= Math.max(...sources.map((s) => statSync(s).mtimeMs))) return;
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, encoding: 'utf8' });
  if (!existsSync(target)) throw new Error(`build did not produce dist/cli/main.js:\n${tsc.stdout}${tsc.stderr}`);
  // tsc emits despite type errors; the typecheck step of `npm test` reports those. Touch the entry so the next check is cheap.
  utimesSync(target, new Date(), new Date());
}

/** The serial number of the certificate the server presents to a new connection. */
export function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toLowerCase());
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** The EDOT daemon pod as the operator renders it, named, for a given namespace. */
export function daemonPod(name: string): V1Pod {
  const pod = parse(readFileSync(fixture('pods/edot-daemon-operator.yaml'), 'utf8')) as V1Pod;
  delete pod.metadata!.generateName;
  delete pod.metadata!.namespace;
  pod.metadata!.name = name;
  return pod;
}

export const containerNames = (pod: V1Pod) => [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);

/**
 * The MutatingWebhookConfiguration we ship (manifests/base/webhook.yaml), renamed and pointed at a
 * test's webhook, so the e2e tests exercise the real rules, policies and selectors.
 * `podsOnly` keeps just the pod webhook; `timeoutSeconds` keeps the apiserver's wait short.
 */
export function shippedWebhookConfiguration(options: {
  name: string;
  clientConfig: AdmissionregistrationV1WebhookClientConfig;
  namespaceSelector: Record<string, string>;
  podsOnly?: boolean;
  timeoutSeconds?: number;
}): V1MutatingWebhookConfiguration {
  const docs = parseAllDocuments(readFileSync(join(root, 'manifests/base/webhook.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string });
  const shipped = docs.find((d) => d.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration | undefined;
  if (!shipped) throw new Error('manifests/base/webhook.yaml has no MutatingWebhookConfiguration');
  const webhooks = (shipped.webhooks ?? [])
    .filter((hook) => !options.podsOnly || hook.rules?.some((rule) => rule.resources?.includes('pods')))
    .map((hook) => ({
      ...hook,
      clientConfig: options.clientConfig,
      namespaceSelector: { matchLabels: options.namespaceSelector },
      timeoutSeconds: options.timeoutSeconds ?? 3,
    }));
  return { ...shipped, metadata: { name: options.name }, webhooks };
}
