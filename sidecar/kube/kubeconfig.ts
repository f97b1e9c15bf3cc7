// Where the sidecar's API credentials come from, without @kubernetes/client-node on the common
// paths: importing its KubeConfig loads the whole generated API (about 62 MiB of the sidecar's
// RSS on Node 20, on every node of the cluster). In a pod the sidecar uses the in-cluster
// ServiceAccount (token re-read as the kubelet rotates it); a kubeconfig file with a server, a
// CA and a token or client certificate is read here too, with client-go's rules (current
// context, paths relative to the file). Anything else a kubeconfig can say (exec and
// auth-provider plugins, basic auth, several files in KUBECONFIG, proxies) is handed to
// client-node's KubeConfig, imported only then.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { RequestOptions } from 'node:https';
import { parse } from 'yaml';

/** What a request needs from the credentials: the server, and TLS and auth applied to its options. */
export interface KubeConnection {
  readonly server: string;
  /** Sets TLS (CA, client certificate, verification) and the Authorization header. */
  apply(options: RequestOptions & { headers: Record<string, string> }): Promise<void>;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a read token is reused: the kubelet rotates it well before expiry (client-go: 1 min). */
const tokenReuseMs = 60_000;

/** A token read from a file, again at most once a minute (kubelet-rotated tokens). */
function fileToken(path: string, now: () => number = Date.now): () => string {
  let cached: { token: string; at: number } | undefined;
  return () => {
    if (!cached || now() - cached.at >= tokenReuseMs) cached = { token: readFileSync(path, 'utf8').trim(), at: now() };
    return cached.token;
  };
}

function connection(server: string, tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>, token?: () => string): KubeConnection {
  return {
    server: server.replace(/\/$/, ''),
    async apply(options) {
      Object.assign(options, tls);
      const value = token?.();
      if (value) options.headers.Authorization = `Bearer ${value}`;
    },
  };
}

/** The in-cluster ServiceAccount (KUBERNETES_SERVICE_HOST/PORT and the mounted token and CA). */
export function inClusterConnection(env: NodeJS.ProcessEnv, dir = serviceAccountDir): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return connection(server, { ca: readFileSync(join(dir, 'ca.crt')) }, fileToken(join(dir, 'token')));
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
  clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name?: string; user?: Record<string, unknown> }>;
}

/** Cluster fields this loader reads; any other one goes to client-node. */
const clusterFields = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
/** User fields this loader reads; exec, auth-provider, username/password, impersonation go to client-node. */
const userFields = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'extensions']);

/**
 * A kubeconfig file as a connection, or undefined when it uses something only client-node
 * implements. Throws with the file's name on what is broken (no current context, no server).
 */
export function fileConnection(path: string): KubeConnection | undefined {
  const config = (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  const contextName = config['current-context'];
  if (!contextName) throw new Error(`${path}: no current-context`);
  const context = config.contexts?.find((entry) => entry.name === contextName)?.context;
  if (!context) throw new Error(`${path}: current-context "${contextName}" is not among its contexts`);
  const cluster = config.clusters?.find((entry) => entry.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string' || cluster.server === '') throw new Error(`${path}: the current context's cluster has no server`);
  const user = config.users?.find((entry) => entry.name === context.user)?.user ?? {};
  if (Object.keys(cluster).some((key) => !clusterFields.has(key)) || Object.keys(user).some((key) => !userFields.has(key))) return undefined;

  // client-go: relative paths in a kubeconfig are relative to the file's directory.
  const file = (value: unknown) => (typeof value === 'string' && value !== '' ? (isAbsolute(value) ? value : join(dirname(path), value)) : undefined);
  const bytes = (data: unknown, filePath: unknown): Buffer | undefined => {
    if (typeof data === 'string' && data !== '') return Buffer.from(data, 'base64');
    const resolved = file(filePath);
    return resolved ? readFileSync(resolved) : undefined;
  };
  const tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'> = {};
  const ca = bytes(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) tls.ca = ca;
  if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
  if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];
  const cert = bytes(user['client-certificate-data'], user['client-certificate']);
  const key = bytes(user['client-key-data'], user['client-key']);
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  const tokenFile = file(user.tokenFile);
  const token = typeof user.token === 'string' && user.token !== '' ? () => user.token as string : tokenFile ? fileToken(tokenFile) : undefined;
  return connection(cluster.server, tls, token);
}

/** The full KubeConfig of client-node (one file, or KUBECONFIG's list), loaded only for what fileConnection does not read. */
async function clientNodeConnection(file: string | undefined): Promise<KubeConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`${file ?? 'KUBECONFIG'}: no current cluster`);
  return {
    server: cluster.server.replace(/\/$/, ''),
    apply: (options) => kc.applyToHTTPSOptions(options as Parameters<typeof kc.applyToHTTPSOptions>[0]),
  };
}

/** Credentials from an explicit file, else KUBECONFIG, else the in-cluster ServiceAccount. */
export async function loadKubeConnection(kubeconfigPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection> {
  const file = kubeconfigPath || env.KUBECONFIG;
  if (file) {
    // Several files in KUBECONFIG are merged by client-node's rules.
    if (!kubeconfigPath && file.includes(':')) return clientNodeConnection(undefined);
    return fileConnection(file) ?? clientNodeConnection(file);
  }
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConnection(env);
  throw new Error('no Kubernetes credentials: pass --kubeconfig, set KUBECONFIG, or run in a pod');
}
