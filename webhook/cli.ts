// `edot-ta webhook`: the mutating admission webhook over HTTPS. Wires flags, optional in-cluster
// certificate bootstrap, the server, certificate hot reload and signal handling.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BootstrapOptions } from '../certs/bootstrap.js';
import { certificateInfo } from '../certs/ca.js';
import { UsageError, parseFlags } from '../common/args.js';
import { createLogger, type Logger } from '../common/log.js';
import { edotTaVersion } from '../common/version.js';
import { runClusterTask } from './cluster-tasks.js';
import { debugFlagOptions, debugUsage, parseDebugSettings, startDebugEndpoint, type DebugEndpoint } from './debug/debug-routes.js';
import { decisionFromReview } from './debug/decisions.js';
import { createWebhookMetrics } from './admission/metrics.js';
import { createWebhookApp, startHttpsServer } from './server.js';
import { injectSettingsFlagOptions, parseCRSettings, parseInjectSettings, resolveNativeSidecars } from './settings.js';
import { loadCertPair, watchCertDir } from './tls-reload.js';

export const webhookUsage = `Usage: edot-ta webhook [flags]

Serves POST /mutate (AdmissionReview admission.k8s.io/v1), GET /healthz, /readyz, /metrics over HTTPS.
Server:
  --port N                 HTTPS port (default 8443)
  --listen-address ADDR    address to bind (default 0.0.0.0)
  --cert-dir DIR           tls.crt + tls.key, reloaded when they change (default /var/run/edot-ta/certs)
  --shutdown-delay-seconds N  after SIGTERM, fail /readyz but keep answering this long (default 5)
  --debug-audience AUD     audience the /debug/ tokens must be requested for (default edot-ta)
In-cluster certificates (optional; otherwise mount a Secret, e.g. from cert-manager, at --cert-dir):
  --bootstrap-secret NS/NAME  create/renew the CA + serving certificate in this Secret, write them to --cert-dir
  --service NAME           webhook Service name (required with --bootstrap-secret)
  --namespace NS           Service namespace (default: the Secret's namespace)
  --webhook-config NAME    MutatingWebhookConfiguration to patch caBundle into
  --ip IP                  extra IP SAN, repeatable
  --cert-days N            serving certificate lifetime (default 365; renewed with a third left)
  --ca-days N              CA lifetime (default 3650)
Injection (env EDOT_TA_<FLAG> in upper snake case works too; flag wins):
  --sidecar-image IMAGE    --sidecar-port N (27390)  --native-sidecars auto|true|false (auto)
  --sidecar-command CMD    --sidecar-node BIN        --sidecar-image-pull-policy P
  --sidecar-run-as-user N  --sidecar-cpu-request Q   --sidecar-memory-request Q
  --sidecar-cpu-limit Q    --sidecar-memory-limit Q  --ready-timeout-seconds N (120)
  --collector-image GLOB   --elastic-agent-image GLOB  --collector-selector SEL
  --collector-container NAME  --ta-interval D (30s)  --sd-refresh-interval D (10s)
  --default-prometheus-cr JSON  --default-mode daemonset|statefulset|deployment (daemonset)
  --handover-seconds N (60; 0 = off)  collector preStop sleep while the sidecar hands over
  --sidecar-pod-scope auto|node|cluster (auto)  pods the sidecar watches (node: its own and covered
                            nodes'; auto: node for DaemonSet pods, cluster otherwise)
${debugUsage}
  GET /debug/settings (same token rules): the effective settings and the served certificate.`;

export const defaultCertDir = '/var/run/edot-ta/certs';
const renewCheckIntervalMs = 60 * 60 * 1000;
const bootstrapAttempts = 5;

function days(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 36500) throw new UsageError(`--${flag}: want a whole number of days (1..36500), got "${value}"`);
  return parsed;
}

/** A kubeconfig is there: in-cluster, KUBECONFIG, or ~/.kube/config (else do not try the network). */
function haveKubeConfig(): boolean {
  return Boolean(process.env.KUBERNETES_SERVICE_HOST || process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config')));
}

async function serverVersion(logger: Logger): Promise<{ major: number; minor: number } | undefined> {
  try {
    const version = await runClusterTask({ task: 'version' }, { timeoutMs: 15_000 });
    logger.info('API server version', { gitVersion: version.gitVersion });
    return version;
  } catch (err) {
    logger.warn('cannot read the API server version; --native-sidecars=auto falls back to a regular sidecar container', { error: err });
    return undefined;
  }
}

export async function run(argv: string[]): Promise<number> {
  const logger = createLogger({ component: 'webhook' });
  let values;
  try {
    values = parseFlags(argv, {
      ...injectSettingsFlagOptions,
      port: { type: 'string' },
      'listen-address': { type: 'string' },
      'cert-dir': { type: 'string' },
      'bootstrap-secret': { type: 'string' },
      service: { type: 'string' },
      namespace: { type: 'string' },
      'webhook-config': { type: 'string' },
      ip: { type: 'string', multiple: true },
      'cert-days': { type: 'string' },
      'ca-days': { type: 'string' },
      'shutdown-delay-seconds': { type: 'string' },
      'debug-audience': { type: 'string' },
      ...debugFlagOptions,
      help: { type: 'boolean', short: 'h' },
    }).values;
    if (values.help) {
      console.log(webhookUsage);
      return 0;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`edot-ta webhook: ${err.message}\n\n${webhookUsage}`);
      return 2;
    }
    throw err;
  }

  let port: number;
  let shutdownDelaySeconds: number;
  let bootstrap: BootstrapOptions | undefined;
  let debugSettings;
  let inject;
  let cr;
  try {
    inject = parseInjectSettings(values, process.env);
    debugSettings = parseDebugSettings(values);
    cr = parseCRSettings(values, process.env);
    port = Number(values.port ?? '8443');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: want 0..65535, got "${values.port}"`);
    shutdownDelaySeconds = Number(values['shutdown-delay-seconds'] ?? '5');
    if (!Number.isFinite(shutdownDelaySeconds) || shutdownDelaySeconds < 0 || shutdownDelaySeconds > 300) {
      throw new UsageError(`--shutdown-delay-seconds: want 0..300, got "${values['shutdown-delay-seconds']}"`);
    }
    if (values['bootstrap-secret'] !== undefined) {
      const [secretNamespace, secretName, ...rest] = values['bootstrap-secret'].split('/');
      if (!secretNamespace || !secretName || rest.length > 0) throw new UsageError(`--bootstrap-secret: want NAMESPACE/NAME, got "${values['bootstrap-secret']}"`);
      if (!values.service) throw new UsageError('--service is required with --bootstrap-secret');
      bootstrap = {
        secretNamespace,
        secretName,
        service: values.service,
        serviceNamespace: values.namespace ?? secretNamespace,
        validityDays: days('cert-days', values['cert-days'], 365),
        caValidityDays: days('ca-days', values['ca-days'], 3650),
        ...(values.ip ? { ips: values.ip } : {}),
        ...(values['webhook-config'] !== undefined ? { webhookConfig: values['webhook-config'] } : {}),
      };
    } else if (values.service !== undefined || values['webhook-config'] !== undefined) {
      throw new UsageError('--service and --webhook-config need --bootstrap-secret');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`edot-ta webhook: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const certDir = values['cert-dir'] ?? defaultCertDir;
  const hostname = values['listen-address'] ?? '0.0.0.0';

  // The API server is asked only at start (version, certificates) and on the renewal timer, never
  // while answering, and from a child process (cluster-tasks.ts) so this one stays small.
  if (inject.nativeSidecarsMode === 'auto' && haveKubeConfig()) inject.nativeSidecars = resolveNativeSidecars('auto', await serverVersion(logger));

  let renewTimer: NodeJS.Timeout | undefined;
  if (bootstrap) {
    const settle = () => runClusterTask({ task: 'bootstrap', options: bootstrap, certDir });
    // The API server may be briefly unreachable at start (e.g. a control-plane upgrade): retry with backoff.
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await settle();
        logger.info('certificates bootstrapped', { secret: `${bootstrap.secretNamespace}/${bootstrap.secretName}`, action: result.secretAction, caBundlePatched: result.caBundlePatched, serial: result.serial });
        break;
      } catch (err) {
        if (attempt >= bootstrapAttempts) {
          logger.error('certificate bootstrap failed', { error: err, attempts: attempt });
          return 1;
        }
        const delayMs = 1000 * 2 ** attempt;
        logger.warn('certificate bootstrap failed; retrying', { error: err, attempt, delayMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
    // Renewal (ours or another replica's) lands in --cert-dir; the watcher below swaps it in.
    renewTimer = setInterval(() => settle().catch((err: unknown) => logger.warn('certificate renewal check failed; will retry', { error: err })), renewCheckIntervalMs);
    renewTimer.unref();
  }

  let pair;
  try {
    pair = await loadCertPair(certDir);
  } catch (err) {
    logger.error('no usable serving certificate in --cert-dir (tls.crt + tls.key)', { dir: certDir, error: err });
    return 1;
  }

  const metrics = createWebhookMetrics();
  let ready = false;
  let servedPair = pair;
  let debug: DebugEndpoint | undefined;
  if (debugSettings) {
    try {
      debug = startDebugEndpoint(debugSettings, logger);
    } catch (err) {
      logger.error('cannot enable the debug endpoint', { error: err });
      return 1;
    }
    debug.routes.get('/debug/settings', (c) => {
      const certificate = certificateInfo(servedPair.certPem);
      return c.json({ version: edotTaVersion(), inject, cr, certDir, certificate: { serial: certificate.serialHex, notAfter: certificate.notAfter.toISOString() } });
    });
  }
  const decisions = debug?.decisions;
  const app = createWebhookApp({
    settings: { inject, cr },
    metrics,
    logger,
    isReady: () => ready,
    ...(debug && decisions ? { extraRoutes: debug.routes, onDecision: (request, outcome, answer) => decisions.record(decisionFromReview(request, outcome, answer)) } : {}),
  });
  let server;
  try {
    server = await startHttpsServer(app, { port, hostname, ...pair });
  } catch (err) {
    logger.error('cannot listen', { address: hostname, port, error: err });
    return 1;
  }
  const running = server;
  const apply = (next: typeof pair) => {
    running.setCertificate(next);
    servedPair = next;
  };
  const watcher = watchCertDir({ dir: certDir, current: pair, apply, logger, onResult: (result) => metrics.observeTlsReload(result) });
  ready = true;
  logger.info('listening', {
    address: hostname,
    port: running.port,
    certDir,
    serial: certificateInfo(pair.certPem).serialHex,
    sidecarImage: inject.sidecarImage,
    sidecarPort: inject.sidecarPort,
    nativeSidecars: inject.nativeSidecars,
    handoverSeconds: inject.handoverSeconds,
    defaultMode: cr.defaultMode,
  });

  const nextSignal = () =>
    new Promise<NodeJS.Signals>((resolve) => {
      const on = (signal: NodeJS.Signals) => () => {
        process.off('SIGTERM', onTerm);
        process.off('SIGINT', onInt);
        resolve(signal);
      };
      const onTerm = on('SIGTERM');
      const onInt = on('SIGINT');
      process.once('SIGTERM', onTerm);
      process.once('SIGINT', onInt);
    });
  const signal = await nextSignal();
  // Keep answering while the Service endpoints catch up with our termination: a refused
  // connection would admit pods without injection (failurePolicy Ignore). A second signal ends it.
  ready = false;
  logger.info('shutting down: /readyz fails, still answering reviews', { signal, shutdownDelaySeconds });
  await Promise.race([new Promise((resolve) => setTimeout(resolve, shutdownDelaySeconds * 1000)), nextSignal()]);
  clearInterval(renewTimer);
  watcher.close();
  await running.close();
  logger.info('stopped');
  return 0;
}
