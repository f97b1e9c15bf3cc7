// `edot-ta sidecar render`: the init container `edot-ta-render`. Reads the collector's original
// configs, writes the rewritten ones into the emptyDir, and the moved scrape configs for the
// sidecar. It never fails the pod over a config's content: anything it cannot handle is copied
// unchanged. A config it cannot read fails the init container loudly: the collector would
// otherwise start without it.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { flagsOrExit, parseFlags, UsageError } from '../../common/args.js';
import { defaultSidecarPort } from '../../contract/names.js';
import { renderFlags, sidecarEnv } from '../../contract/sidecar.js';
import { createLogger } from '../../common/log.js';
import { formatScrapeConfigs, renderConfigs, type RenderInput } from './render.js';
import { renderReportPath, type RenderReport } from './render-report.js';

const usage = `Usage: edot-ta sidecar render --in FILE --out FILE [--in FILE --out FILE ...]
         [--scrape-configs-out FILE] [--endpoint http://127.0.0.1:27390]
         [--interval 30s] [--refresh-interval 10s] [--collector-id '\${env:POD_NAME}']
         [--pod-local-env NAME,NAME]

Rewrites collector configs so their prometheus receiver gets targets from the local edot-ta
sidecar (target_allocator), and writes the moved static scrape_configs to --scrape-configs-out.
\${env:...} inside moved scrape configs is expanded from this process's environment.
Jobs that read a per-pod variable (--pod-local-env; default: the conventional names such as
OTEL_K8S_NODE_NAME, OTEL_K8S_NODE_IP) or use a discovery the sidecar does not run (consul,
ec2, ...; file_sd outside --shared-paths) stay in the collector unchanged; jobs Prometheus
would reject are removed. The sidecar runs static, kubernetes, dns, http and file discovery.`;

const flagOptions = {
  [renderFlags.in]: { type: 'string', multiple: true },
  [renderFlags.out]: { type: 'string', multiple: true },
  [renderFlags.scrapeConfigsOut]: { type: 'string' },
  [renderFlags.endpoint]: { type: 'string', default: `http://127.0.0.1:${defaultSidecarPort}` },
  [renderFlags.interval]: { type: 'string', default: '30s' },
  [renderFlags.refreshInterval]: { type: 'string', default: '10s' },
  [renderFlags.collectorId]: { type: 'string', default: `\${env:${sidecarEnv.podName}}` },
  [renderFlags.podLocalEnv]: { type: 'string' },
  [renderFlags.sharedPaths]: { type: 'string' },
  [renderFlags.tokenOut]: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses and checks `sidecar render` flags without side effects; throws UsageError. */
export function parseRenderFlags(argv: string[]) {
  const { values } = parseFlags(argv, flagOptions);
  if (values.help) return values;
  const ins = values.in ?? [];
  const outs = values.out ?? [];
  if (ins.length === 0 || ins.length !== outs.length) throw new UsageError(`want one --out per --in (got ${ins.length} --in, ${outs.length} --out)`);
  for (const flag of [renderFlags.interval, renderFlags.refreshInterval] as const) {
    if (!/^([0-9]+(ms|s|m|h))+$/.test(values[flag])) throw new UsageError(`--${flag}: want a duration like 30s, got "${values[flag]}"`);
  }
  return values;
}

/** The kubelet's default terminationMessagePath; it exists only inside a container. */
const terminationLog = '/dev/termination-log';

function writeTerminationMessage(message: string): void {
  if (!existsSync(terminationLog)) return;
  try {
    writeFileSync(terminationLog, message);
  } catch {
    // best effort: stderr carries the same message
  }
}

export async function run(argv: string[]): Promise<number> {
  const log = createLogger({ component: 'render' });
  const values = flagsOrExit('sidecar render', usage, () => parseRenderFlags(argv));
  if (typeof values === 'number') return values;
  const ins = values.in!;
  const outs = values.out!;

  const inputs: RenderInput[] = [];
  const unreadable = new Set<number>();
  ins.forEach((path, index) => {
    try {
      inputs.push({ name: path, text: readFileSync(path, 'utf8') });
    } catch (err) {
      // Nothing to copy: the collector will report the missing file itself; say why here.
      log.error('cannot read collector config', { file: path, error: err instanceof Error ? err.message : String(err) });
      unreadable.add(index);
    }
  });
  if (unreadable.size > 0) {
    // Never a collector without its config: fail the init container, so the pod stops here with
    // the reason in `kubectl describe pod` (the kubelet shows the termination message).
    const files = [...unreadable].map((index) => ins[index]).join(', ');
    const message = `edot-ta render cannot read the collector config ${files} (the render container runs as a non-root user); make it readable, or opt the pod out with the annotation edot-ta.io/inject: "false"`;
    console.error(message);
    writeTerminationMessage(message);
    return 1;
  }

  // The sidecar's API token: fresh per pod start, readable by this pod's containers only.
  const tokenOut = values['token-out'];
  const token = tokenOut ? randomBytes(32).toString('base64url') : undefined;
  if (tokenOut && token) {
    try {
      mkdirSync(dirname(tokenOut), { recursive: true });
      writeFileSync(tokenOut, token, { mode: 0o600 });
    } catch (err) {
      const message = `edot-ta render cannot write the API token to ${tokenOut}: ${err instanceof Error ? err.message : String(err)}`;
      console.error(message);
      writeTerminationMessage(message);
      return 1;
    }
  }

  const result = renderConfigs(inputs, {
    endpoint: values.endpoint,
    interval: values.interval,
    refreshInterval: values['refresh-interval'],
    collectorId: values['collector-id'],
    env: process.env,
    ...(values['pod-local-env'] !== undefined ? { podLocalEnv: values['pod-local-env'].split(',').map((name) => name.trim()).filter(Boolean) } : {}),
    ...(values['shared-paths'] !== undefined ? { sharedPaths: values['shared-paths'].split(',').map((path) => path.trim()).filter(Boolean) } : {}),
    ...(token ? { token } : {}),
  });
  for (const message of result.messages) log.info(message);

  ins.forEach((path, index) => {
    const rendered = result.configs[index]!;
    const out = outs[index]!;
    try {
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, rendered.text);
      log.info(rendered.changed ? 'wrote rendered config' : 'copied config unchanged', { from: path, to: out });
    } catch (err) {
      log.error('cannot write rendered config', { to: out, error: err instanceof Error ? err.message : String(err) });
    }
  });
  const scrapeConfigsOut = values['scrape-configs-out'];
  if (scrapeConfigsOut) {
    try {
      mkdirSync(dirname(scrapeConfigsOut), { recursive: true });
      writeFileSync(scrapeConfigsOut, formatScrapeConfigs(result.scrapeConfigs));
      log.info('wrote scrape configs for the sidecar', { to: scrapeConfigsOut, jobs: result.scrapeConfigs.map((job) => job.job_name) });
    } catch (err) {
      log.error('cannot write scrape configs', { to: scrapeConfigsOut, error: err instanceof Error ? err.message : String(err) });
    }
    const report: RenderReport = { ...(result.receiver ? { receiver: result.receiver } : {}), moved: result.scrapeConfigs.length, notTaken: result.notTaken };
    try {
      writeFileSync(renderReportPath(scrapeConfigsOut), JSON.stringify(report));
    } catch (err) {
      // Informational only (Events, doctor): the collector and the sidecar run without it.
      log.warn('cannot write the render report', { to: renderReportPath(scrapeConfigsOut), error: err instanceof Error ? err.message : String(err) });
    }
  }
  return 0;
}
