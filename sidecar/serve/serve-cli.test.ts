import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { loadStaticConfigs, parseStaticConfigs, run } from './serve-cli.js';

describe('static scrape configs file', () => {
  it('reads the {scrape_configs: [...]} that render writes', () => {
    const configs = parseStaticConfigs('scrape_configs:\n  - job_name: istio\n    metrics_path: /stats/prometheus\n    static_configs: [{targets: ["10.0.0.1:15090"]}]\n');
    expect(configs).toEqual([{ job_name: 'istio', metrics_path: '/stats/prometheus', static_configs: [{ targets: ['10.0.0.1:15090'] }] }]);
    expect(parseStaticConfigs('')).toEqual([]);
  });

  it('rejects entries without a job_name, naming the entry', () => {
    expect(() => parseStaticConfigs('scrape_configs:\n  - job_name: a\n  - metrics_path: /x\n')).toThrow(/scrape_configs\[1\] needs a string job_name/);
    expect(() => parseStaticConfigs('- a\n')).toThrow(/mapping/);
  });

  it('treats a missing file as no static jobs and reports a broken one without failing', () => {
    const lines: string[] = [];
    const logger = createLogger({}, (line) => lines.push(line));
    const dir = mkdtempSync(join(tmpdir(), 'edot-ta-serve-'));
    expect(loadStaticConfigs(join(dir, 'absent.yaml'), logger)).toEqual({ configs: [] });
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'scrape_configs: {not: a list}\n');
    const result = loadStaticConfigs(broken, logger);
    expect(result.configs).toEqual([]);
    expect(result.error).toMatch(/broken\.yaml: scrape_configs must be a list/);
    expect(lines.join('\n')).toMatch(/cannot read the static scrape configs/);
  });
});

describe('edot-ta sidecar serve flags', () => {
  it('refuses a non-loopback --listen and a missing pod identity before touching the cluster', async () => {
    const saved = { ...process.env };
    try {
      for (const name of ['POD_NAME', 'POD_UID', 'POD_NAMESPACE', 'NODE_NAME', 'EDOT_TA_GROUP']) delete process.env[name];
      expect(await run(['--listen', '127.0.0.1:0'])).toBe(2);
      Object.assign(process.env, { POD_NAME: 'p', POD_UID: 'u', POD_NAMESPACE: 'n', NODE_NAME: 'node', EDOT_TA_GROUP: 'g' });
      expect(await run(['--listen', '0.0.0.0:27390'])).toBe(1);
      expect(await run(['--pod-scope', 'galaxy'])).toBe(2);
    } finally {
      process.env = saved;
    }
  });
});
