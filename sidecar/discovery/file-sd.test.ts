// file_sd on real files: JSON and YAML (YAML values as written, strict fields), patterns,
// a broken file keeping its previous groups, a removed file losing them, and directory
// changes starting a refresh before the period is over.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSdRefresh, listFiles, namePattern, watchFileSdDirectories } from './file-sd.js';
import { parseRefreshSd, RefreshLoop, type FileSdSpec } from './refresh-sd.js';

const dir = () => mkdtempSync(join(tmpdir(), 'edot-ta-file-sd-'));
const spec = (files: string[], refresh = '5m') => parseRefreshSd('file', { files, refresh_interval: refresh }) as FileSdSpec;

describe('file name patterns', () => {
  it('match as Go filepath.Match does', () => {
    expect(namePattern('*.json').test('targets.json')).toBe(true);
    expect(namePattern('*.json').test('targets.yaml')).toBe(false);
    expect(namePattern('node-?.y*ml').test('node-a.yaml')).toBe(true);
    expect(namePattern('[ab]*.json').test('c.json')).toBe(false);
    expect(namePattern('[^ab]*.json').test('c.json')).toBe(true);
  });

  it('list matching regular files, sorted; a plain path only when it exists', () => {
    const d = dir();
    for (const name of ['b.json', 'a.json', 'c.yaml']) writeFileSync(join(d, name), '[]');
    expect(listFiles(join(d, '*.json'))).toEqual([join(d, 'a.json'), join(d, 'b.json')]);
    expect(listFiles(join(d, 'c.yaml'))).toEqual([join(d, 'c.yaml')]);
    expect(listFiles(join(d, 'missing.yaml'))).toEqual([]);
    expect(listFiles('/nonexistent-dir/*.json')).toEqual([]);
  });
});

describe('file_sd refresh', () => {
  it('reads JSON and YAML files: __meta_filepath, sources <file>:<index>, YAML scalars as strings', async () => {
    const d = dir();
    writeFileSync(join(d, 'a.json'), JSON.stringify([{ targets: ['10.0.0.1:9100'], labels: { env: 'prod' } }]));
    writeFileSync(join(d, 'b.yaml'), '- targets: [10.0.0.2:9100, 8080]\n  labels: { shard: 1, on: yes }\n');
    const { groups, errors } = await fileSdRefresh(spec([join(d, '*.json'), join(d, '*.yaml')]))(new Map());
    expect(errors).toEqual([]);
    expect([...groups.values()]).toEqual([
      { source: `${join(d, 'a.json')}:0`, targets: [{ __address__: '10.0.0.1:9100' }], labels: { env: 'prod', __meta_filepath: join(d, 'a.json') } },
      { source: `${join(d, 'b.yaml')}:0`, targets: [{ __address__: '10.0.0.2:9100' }, { __address__: '8080' }], labels: { shard: '1', on: 'yes', __meta_filepath: join(d, 'b.yaml') } },
    ]);
  });

  it('a file that no longer parses keeps its previous groups (and says why); a removed file loses them', async () => {
    const d = dir();
    const a = join(d, 'a.json');
    const b = join(d, 'b.yml');
    writeFileSync(a, JSON.stringify([{ targets: ['10.0.0.1:9100'] }]));
    writeFileSync(b, '- targets: [10.0.0.2:9100]\n');
    const refresh = fileSdRefresh(spec([join(d, '*.json'), join(d, '*.yml')]));
    const first = await refresh(new Map());
    writeFileSync(a, '[{"targets": ');
    writeFileSync(b, '- targets: [10.0.0.2:9100]\n  lables: {}\n');
    const second = await refresh(first.groups);
    expect([...second.groups.keys()]).toEqual([`${a}:0`, `${b}:0`]);
    expect(second.errors.join('\n')).toMatch(new RegExp(`reading ${a}`));
    expect(second.errors.join('\n')).toMatch(/field lables not found/);
    rmSync(a);
    expect([...(await refresh(second.groups)).groups.keys()]).toEqual([`${b}:0`]);
  });

  it('a change in the directory (a ConfigMap update renames files into place) refreshes before the period', async () => {
    const d = dir();
    const file = join(d, 'targets.json');
    writeFileSync(file, JSON.stringify([{ targets: ['10.0.0.1:9100'] }]));
    const s = spec([join(d, '*.json')]);
    let latest: string[] = [];
    const loop = new RefreshLoop({ refreshMs: s.refreshMs, refresh: fileSdRefresh(s), onGroups: (g) => (latest = [...g.values()].flatMap((x) => x.targets.map((t) => t.__address__!))), onError: () => {}, watch: (now) => watchFileSdDirectories(s, now, 20) });
    loop.start();
    try {
      await expect.poll(() => latest).toEqual(['10.0.0.1:9100']);
      writeFileSync(join(d, 'next.tmp'), JSON.stringify([{ targets: ['10.0.0.1:9100', '10.0.0.2:9100'] }]));
      renameSync(join(d, 'next.tmp'), file);
      // The period is 5 minutes: only the directory watch can explain a refresh within the poll's 10 s.
      await expect.poll(() => latest, { timeout: 10_000 }).toEqual(['10.0.0.1:9100', '10.0.0.2:9100']);
    } finally {
      loop.stop();
    }
  });
});
