import { describe, expect, it, vi } from 'vitest';
import { main, usage } from './main.js';
import { edotTaVersion } from '../common/version.js';

describe('edot-ta CLI', () => {
  it('prints the package version for `version`', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await main(['version'])).toBe(0);
    expect(log).toHaveBeenCalledWith(edotTaVersion());
    expect(edotTaVersion()).toMatch(/^\d+\.\d+\.\d+/);
    log.mockRestore();
  });

  it('lists every subcommand in --help', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await main(['--help'])).toBe(0);
    const text = String(log.mock.calls[0]?.[0]);
    for (const name of ['version', 'webhook', 'sidecar', 'certs', 'inject', 'doctor']) {
      expect(text).toContain(`  ${name} `);
    }
    expect(text).toBe(usage());
    log.mockRestore();
  });

  it('rejects an unknown command with exit code 2', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await main(['frobnicate'])).toBe(2);
    expect(String(error.mock.calls[0]?.[0])).toContain('unknown command "frobnicate"');
    error.mockRestore();
  });
});
