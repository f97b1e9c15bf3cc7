// The layout's rules, checked on the product sources (README "Layout"): imports go one way,
// cli → webhook | sidecar | certs → contract → common (the webhook also uses certs to
// bootstrap its own certificate), no file imports in a cycle, and no product file imports
// test/ or bench/ (the image carries neither).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const productFolders = ['cli', 'common', 'contract', 'webhook', 'sidecar', 'certs'] as const;
type Folder = (typeof productFolders)[number];

/** Which product folders each folder may import. */
const allowed: Record<Folder, readonly Folder[]> = {
  common: [],
  contract: ['common'],
  certs: ['contract', 'common'],
  webhook: ['certs', 'contract', 'common'],
  sidecar: ['contract', 'common'],
  cli: ['webhook', 'sidecar', 'certs', 'contract', 'common'],
};

const productFiles = productFolders.flatMap((folder) =>
  readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => join(folder, file)),
);

/** Relative imports of a file (static, re-exports, dynamic), resolved to repo paths of .ts files. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(?\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

const topFolder = (file: string) => file.split('/')[0]!;

describe('product imports', () => {
  it('finds the product files (the check cannot pass on an empty tree)', () => {
    expect(productFiles.length).toBeGreaterThan(60);
    expect(productFiles).toContain('webhook/pod/pod-mutation.ts');
  });

  it('go one way between folders and never into test/ or bench/', () => {
    const violations: string[] = [];
    for (const file of productFiles) {
      const from = topFolder(file) as Folder;
      for (const target of importsOf(file)) {
        const to = topFolder(target);
        if (to === from) continue;
        if (!(allowed[from] as readonly string[]).includes(to)) violations.push(`${file} → ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('form no cycle between files', () => {
    const graph = new Map(productFiles.map((file) => [file, importsOf(file).filter((target) => productFiles.includes(target))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative('.', f)).join(' → '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of productFiles) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
