// Hot reload of the serving certificate from --cert-dir (tls.crt + tls.key), without a restart.
// A mounted Secret is updated by the kubelet through a symlink swap: the files are links into
// `..data`, itself a link to a timestamped directory that is replaced with one atomic rename.
// Watching the files would follow the old inode, so we watch the directory, debounce the burst
// of events, read both files, validate that the key matches the certificate, and only then swap.
// A slow poll backs up the watcher (some volume types deliver no inotify events).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateKeyPair, type PemPair } from '../certs/ca.js';
import type { Logger } from '../common/log.js';

export const certFileName = 'tls.crt';
export const keyFileName = 'tls.key';

/** Reads and validates the pair in `dir`; throws with a message naming the problem. */
export async function loadCertPair(dir: string): Promise<PemPair> {
  // Both reads settle before we report, so the message names every unreadable file (not whichever failed first).
  const [cert, key] = await Promise.allSettled([readFile(join(dir, certFileName), 'utf8'), readFile(join(dir, keyFileName), 'utf8')]);
  if (cert.status === 'rejected' || key.status === 'rejected') {
    const failures = ([[certFileName, cert], [keyFileName, key]] as const).flatMap(([name, result]) =>
      result.status === 'rejected' ? [`${name} (${(result.reason as NodeJS.ErrnoException).code ?? String(result.reason)})`] : [],
    );
    throw new Error(`cannot read ${failures.join(' and ')} in ${dir}`);
  }
  const certPem = cert.value;
  const keyPem = key.value;
  validateKeyPair({ certPem, keyPem });
  return { certPem, keyPem };
}

export interface CertWatcher {
  /** Reads the directory now; resolves true when a new, valid pair was applied. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface CertWatcherOptions {
  dir: string;
  /** The pair currently served (a reload with the same bytes does nothing). */
  current: PemPair;
  apply: (pair: PemPair) => void;
  logger: Logger;
  onResult?: (result: 'success' | 'failure') => void;
  debounceMs?: number;
  pollIntervalMs?: number;
}

export function watchCertDir(options: CertWatcherOptions): CertWatcher {
  const { dir, logger } = options;
  const debounceMs = options.debounceMs ?? 200;
  let current = options.current;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<boolean> | undefined;
  let again = false;
  let lastError = '';

  const reloadOnce = async (): Promise<boolean> => {
    let pair: PemPair;
    try {
      pair = await loadCertPair(dir);
    } catch (err) {
      // Mid-swap reads (new cert, old key) land here too; the next event or poll retries.
      const message = err instanceof Error ? err.message : String(err);
      if (message !== lastError) {
        logger.warn('serving certificate in --cert-dir not usable; keeping the current one', { dir, error: message });
        options.onResult?.('failure');
      }
      lastError = message;
      return false;
    }
    lastError = '';
    if (pair.certPem === current.certPem && pair.keyPem === current.keyPem) return false;
    options.apply(pair);
    current = pair;
    options.onResult?.('success');
    logger.info('reloaded the serving certificate', { dir });
    return true;
  };

  // One reload at a time; events during a reload schedule exactly one more.
  const reload = async (): Promise<boolean> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let changed = false;
      do {
        again = false;
        changed = (await reloadOnce()) || changed;
      } while (again);
      return changed;
    })().finally(() => (running = undefined));
    return running;
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, schedule);
    watcher.on('error', (err) => logger.warn('watching --cert-dir failed; relying on the periodic check', { dir, error: err }));
  } catch (err) {
    logger.warn('cannot watch --cert-dir; relying on the periodic check', { dir, error: err });
  }
  const poll = setInterval(() => void reload(), options.pollIntervalMs ?? 60_000);
  poll.unref();

  return {
    reload,
    close() {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
