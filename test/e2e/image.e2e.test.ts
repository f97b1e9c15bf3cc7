// The image builds from its Containerfile's context, without a container engine: each stage's
// COPY lines are staged into an empty directory (the build stage from the repository, the
// runtime stage from the build stage), its RUN lines run there with this machine's Node 20, and
// the runtime tree then runs the CLI as the image would: --help, `sidecar render` on a
// fixture, and `webhook` answering /healthz. A file the build needs but the Containerfile does
// not copy fails here, as does test or bench code in the runtime tree.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { get, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, startProcess, waitFor } from '../harness/processes.js';

const execFileAsync = promisify(execFile);
const repo = new URL('../../', import.meta.url).pathname;

interface Stage {
  name: string;
  steps: Array<{ kind: 'COPY'; from?: string; sources: string[]; dest: string } | { kind: 'RUN'; command: string } | { kind: 'ENV'; value: string }>;
}

/** The stages of a Containerfile (FROM, COPY [--from], RUN, ENV; WORKDIR is the stage's root here). */
function parseContainerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [instruction, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (instruction === 'FROM') stages.push({ name: / AS (\S+)/i.exec(args)?.[1] ?? `stage${stages.length}`, steps: [] });
    else if (instruction === 'COPY') {
      const from = /^--from=(\S+)\s+/.exec(args)?.[1];
      const paths = args.replace(/^--from=\S+\s+/, '').split(/\s+/);
      stages.at(-1)!.steps.push({ kind: 'COPY', from, sources: paths.slice(0, -1), dest: paths.at(-1)! });
    } else if (instruction === 'RUN') stages.at(-1)!.steps.push({ kind: 'RUN', command: args });
    else if (instruction === 'ENV') stages.at(-1)!.steps.push({ kind: 'ENV', value: args });
  }
  return stages;
}

function du(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

describe('the image, built from its Containerfile context', () => {
  const work = mkdtempSync(join(tmpdir(), 'edot-ta-image-'));
  const roots = new Map<string, string>();
  let runtime = '';

  beforeAll(async () => {
    const stages = parseContainerfile(readFileSync(join(repo, 'Containerfile'), 'utf8'));
    expect(stages.map((s) => s.name)).toEqual(['build', 'stage1']);
    // The build context is the repository minus .dockerignore'd paths (node_modules, dist, .git).
    const ignored = readFileSync(join(repo, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    for (const stage of stages) {
      const root = join(work, stage.name);
      mkdirSync(root);
      roots.set(stage.name, root);
      for (const step of stage.steps) {
        if (step.kind === 'COPY') {
          const base = step.from ? roots.get(step.from)! : repo;
          for (const source of step.sources) {
            const clean = source.replace(/^\/app\//, '').replace(/^\.\//, '');
            if (!step.from && ignored.some((pattern) => clean === pattern || clean.startsWith(`${pattern}/`))) throw new Error(`Containerfile copies ${source}, which .dockerignore excludes`);
            const target = step.dest.endsWith('/') ? join(root, step.dest.replace(/^\.\//, ''), clean.split('/').at(-1)!) : join(root, step.dest.replace(/^\.\//, ''));
            cpSync(join(base, clean), target, { recursive: true });
          }
        } else if (step.kind === 'RUN') {
          if (step.command.includes('/usr/local/bin/edot-ta')) continue; // the PATH wrapper: checked below through dist/cli/main.js
          await execFileAsync('sh', ['-c', step.command], { cwd: root, maxBuffer: 64 << 20, env: { ...process.env, NODE_ENV: '' } });
        }
      }
    }
    runtime = roots.get('stage1')!;
  }, 600_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const cli = (args: string[]) => execFileAsync(process.execPath, [join(runtime, 'dist/cli/main.js'), ...args], { cwd: runtime, env: { ...process.env, NODE_ENV: 'production' } });

  it('holds only production dependencies and product code', () => {
    expect(readdirSync(runtime).sort()).toEqual(['dist', 'node_modules', 'package.json']);
    expect(readdirSync(join(runtime, 'dist')).sort()).toEqual(['certs', 'cli', 'common', 'contract', 'sidecar', 'webhook']);
    for (const dev of ['vitest', 'typescript', 'tsx']) expect(existsSync(join(runtime, 'node_modules', dev)), dev).toBe(false);
    for (const dep of Object.keys((JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)) {
      expect(existsSync(join(runtime, 'node_modules', dep)), dep).toBe(true);
    }
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(`image contents without the base image: ${mib(du(runtime))} MiB (node_modules ${mib(du(join(runtime, 'node_modules')))} MiB, dist ${mib(du(join(runtime, 'dist')))} MiB)`);
  });

  it('runs the CLI: --help lists the commands, sidecar render rewrites a collector config', async () => {
    const help = await cli(['--help']);
    for (const command of ['webhook', 'sidecar', 'certs', 'inject', 'doctor']) expect(help.stdout).toContain(`  ${command}`);
    const out = join(work, 'render');
    await cli(['sidecar', 'render', '--in', join(repo, 'test/fixtures/collector-configs/edot-daemon-istio.yaml'), '--out', join(out, 'collector.yaml'), '--scrape-configs-out', join(out, 'scrape-configs.yaml')]);
    const rendered = parse(readFileSync(join(out, 'collector.yaml'), 'utf8')) as { receivers: Record<string, { target_allocator?: { endpoint?: string } }> };
    expect(rendered.receivers['prometheus/istio']?.target_allocator?.endpoint).toBe('http://127.0.0.1:27390');
    expect(readFileSync(join(out, 'scrape-configs.yaml'), 'utf8')).toContain('job_name: istio-ingressgateway');
  });

  it('runs the webhook, which answers /healthz over HTTPS and reviews a collector CR in its worker thread', async () => {
    const certs = join(work, 'certs');
    await cli(['certs', '--out-dir', certs, '--service', 'edot-ta-webhook', '--namespace', 'edot-ta-system', '--ip', '127.0.0.1']);
    const port = await freePort();
    const webhook = startProcess('image-webhook', process.execPath, [join(runtime, 'dist/cli/main.js'), 'webhook', '--port', String(port), '--listen-address', '127.0.0.1', '--cert-dir', certs, '--shutdown-delay-seconds', '0'], {
      cwd: runtime,
      logFile: join(work, 'webhook.log'),
      env: { ...process.env, NODE_ENV: 'production' },
    });
    try {
      const ca = readFileSync(join(certs, 'ca.crt'));
      const healthz = () => new Promise<string>((resolve, reject) => get({ host: '127.0.0.1', port, path: '/healthz', ca }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString())).on('end', () => resolve(`${res.statusCode} ${body}`));
      }).once('error', reject));
      await waitFor('the image webhook /healthz', async () => (await healthz()) === '200 ok', { timeoutMs: 30_000, abortIf: webhook.exited, describe: () => webhook.tail() });
      // A CR review runs in the worker thread (its own file in dist/): the image must carry it.
      const body = readFileSync(new URL('../fixtures/admission/collector-create-v1alpha1.json', import.meta.url));
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/mutate', method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString())).on('end', () => resolve(text));
        });
        req.once('error', reject);
        req.end(body);
      });
      const review = JSON.parse(answer) as { response: { patch?: string; warnings?: string[] } };
      expect(review.response.warnings ?? []).not.toContainEqual(expect.stringMatching(/admitted unchanged/));
      expect(review.response.patch).toBeTruthy();
    } finally {
      await webhook.stop();
    }
  });
});
