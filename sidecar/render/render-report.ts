// What the render step tells the sidecar: the collector receiver's jobs it did not take, and
// why (left in the collector, or removed as invalid). A JSON file beside the moved scrape
// configs in the shared emptyDir; the sidecar names these jobs in an Event on its pod and in the
// report on its Lease (what `edot-ta doctor` reads). Reasons name jobs, variables and files,
// never a config value.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { JobNotTaken } from './render.js';

export interface RenderReport {
  /** The receiver that now gets its targets from the sidecar, if any. */
  receiver?: string;
  /** How many jobs moved to the sidecar. */
  moved: number;
  notTaken: JobNotTaken[];
}

/** The report lives beside the scrape configs file, so neither container needs another flag. */
export const renderReportPath = (scrapeConfigsFile: string): string => join(dirname(scrapeConfigsFile), 'render-report.json');

/** The report render wrote; undefined when there is none (an older render, or no receiver). Throws on a malformed file. */
export function readRenderReport(path: string): RenderReport | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const doc = JSON.parse(text) as Partial<RenderReport> | null;
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.notTaken)) throw new Error(`${path}: not a render report`);
  const notTaken = doc.notTaken.filter(
    (j): j is JobNotTaken => !!j && typeof j.job === 'string' && (j.action === 'keep' || j.action === 'drop') && typeof j.reason === 'string',
  );
  return { ...(typeof doc.receiver === 'string' ? { receiver: doc.receiver } : {}), moved: typeof doc.moved === 'number' ? doc.moved : 0, notTaken };
}
