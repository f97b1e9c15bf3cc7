// A real Kubernetes control plane for tests: etcd + kube-apiserver (built by setup.sh) on free
// loopback ports, token auth + RBAC, and a kubeconfig that kubectl and @kubernetes/client-node
// both use. Two servers: `current` (v1.37, the default) and `legacy` (v1.20, no native
// sidecars). No kubelet, no controllers: tests create pods directly and set their IPs through
// the status subresource.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProcess, waitFor, type ManagedProcess } from './processes.js';
import { tool } from './tools.js';

/** `current`: the newest release the harness builds (native sidecars, EndpointSlice v1, policy/v1). `legacy`: v1.20. */
export type ServerVersion = 'current' | 'legacy';

export interface ClusterEndpoints {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of a system:masters user. */
  adminToken: string;
  kubeconfigPath: string;
  /** CA that signed the apiserver's serving certificate. */
  caFile: string;
  stateDir: string;
  etcdUrl: string;
  apiserverPid: number;
  version: ServerVersion;
}


export class Cluster {
  private apiserver: ManagedProcess | undefined;
  private constructor(
    readonly endpoints: ClusterEndpoints,
    private readonly etcd: ManagedProcess,
    private readonly apiserverArgs: string[],
    private readonly apiserverBinary: string,
  ) {}

  /** Starts etcd and kube-apiserver and waits until /readyz answers ok. */
  static async start(options: { stateDir?: string; log?: (msg: string) => void; version?: ServerVersion } = {}): Promise<Cluster> {
    const log = options.log ?? (() => {});
    const version = options.version ?? 'current';
    const apiserverBinary = tool(version === 'current' ? 'kube-apiserver' : 'kube-apiserver-1.20');
    // etcd fsyncs on every write; a tmpfs keeps the suite fast and leaves no disk state behind.
    const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const stateDir = options.stateDir ?? mkdtempSync(join(base, 'edot-ta-cluster-'));
    mkdirSync(stateDir, { recursive: true });

    const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = startProcess(
      'etcd',
      tool('etcd'),
      [
        `--data-dir=${join(stateDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--log-level=warn',
      ],
      { logFile: join(stateDir, 'etcd.log') },
    );
    await waitFor('etcd health', async () => (await fetch(`${etcdUrl}/health`)).ok, {
      timeoutMs: 20_000,
      abortIf: etcd.exited,
      describe: () => etcd.tail(),
    });
    log(`etcd ready on ${etcdUrl}`);

    const adminToken = randomBytes(24).toString('hex');
    writeFileSync(join(stateDir, 'tokens.csv'), `${adminToken},admin,admin,system:masters\n`, { mode: 0o600 });
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(stateDir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(stateDir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const certDir = join(stateDir, 'pki');
    mkdirSync(certDir, { recursive: true });
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(stateDir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-key-file=${join(stateDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(stateDir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--api-audiences=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      '--v=0',
      // v1.20 logs to files unless told otherwise; the flag is gone from current releases.
      ...(version === 'legacy' ? ['--logtostderr=true'] : []),
      // Current releases refuse a loopback advertise address for the `kubernetes` Service's
      // Endpoints; nothing here reaches the apiserver through that Service.
      ...(version === 'current' ? ['--endpoint-reconciler-type=none'] : []),
    ];
    const endpoints: ClusterEndpoints = {
      server: `https://127.0.0.1:${apiPort}`,
      adminToken,
      kubeconfigPath: join(stateDir, 'kubeconfig'),
      // The apiserver writes a self-signed serving cert (with its CA) into --cert-dir.
      caFile: join(certDir, 'apiserver.crt'),
      stateDir,
      etcdUrl,
      apiserverPid: 0,
      version,
    };
    const cluster = new Cluster(endpoints, etcd, apiserverArgs, apiserverBinary);
    try {
      await cluster.startApiServer();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    writeKubeconfig(endpoints.kubeconfigPath, endpoints.server, endpoints.caFile, adminToken);
    log(`kube-apiserver ready on ${endpoints.server}; kubeconfig ${endpoints.kubeconfigPath}`);
    return cluster;
  }

  /** (Re)starts the apiserver on the same port with the same state: used for outage tests. */
  async startApiServer(): Promise<void> {
    if (this.apiserver) return;
    const apiserver = startProcess('kube-apiserver', this.apiserverBinary, this.apiserverArgs, {
      logFile: join(this.endpoints.stateDir, 'kube-apiserver.log'),
    });
    this.apiserver = apiserver;
    this.endpoints.apiserverPid = apiserver.pid;
    await waitFor('kube-apiserver /readyz', () => probeReadyz(this.endpoints.server, this.endpoints.adminToken), {
      timeoutMs: 60_000,
      intervalMs: 200,
      abortIf: apiserver.exited,
      describe: () => apiserver.tail(),
    });
  }

  /** Stops only the apiserver (etcd keeps the state) to simulate an API server outage. */
  async stopApiServer(): Promise<void> {
    const apiserver = this.apiserver;
    this.apiserver = undefined;
    await apiserver?.stop();
  }

  /** Pids of the child processes, for leak checks. */
  childPids(): { etcd: number; apiserver?: number } {
    return { etcd: this.etcd.pid, ...(this.apiserver ? { apiserver: this.apiserver.pid } : {}) };
  }

  get apiServerRunning(): boolean {
    return this.apiserver !== undefined;
  }

  async stop(): Promise<void> {
    await this.stopApiServer();
    await this.etcd.stop();
    if (!process.env.EDOT_TA_KEEP_CLUSTER_STATE) rmSync(this.endpoints.stateDir, { recursive: true, force: true });
  }
}

function probeReadyz(server: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${server}/readyz`,
      { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2_000 },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'ok'));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function writeKubeconfig(path: string, server: string, caFile: string, token: string, user = 'admin'): void {
  // JSON is valid YAML: kubectl and client-node both read it.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'edot-ta-test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'edot-ta-test', context: { cluster: 'edot-ta-test', user } }],
    'current-context': 'edot-ta-test',
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
}
