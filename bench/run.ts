// `npm run bench`: runs every bench/*.bench.js (built) one after the other, each in its own
// process so that one benchmark's memory does not skew the next. Each prints its own table,
// with ratios against a baseline it measures in the same run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => only.length === 0 || only.some((name) => f.includes(name)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks found in ${here}${only.length ? ` matching ${only.join(', ')}` : ''}`);
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file.replace(/\.bench\.js$/, '')}\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.error(`benchmark ${file} failed with exit code ${result.status}`);
  }
}
process.exit(failed ? 1 : 0);
