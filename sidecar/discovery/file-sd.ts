// file_sd_configs as Prometheus runs them: every pattern (`*` etc. in the file name only) is
// listed, each .json/.yml/.yaml file read as a list of target groups (YAML strictly), sources
// `<file>:<index>` with `__meta_filepath`. Re-read every refresh_interval and whenever a watched
// directory changes (a ConfigMap update swaps its `..data` link). A file that cannot be read or
// parsed keeps its previous groups; a file that is gone loses them.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parse } from 'yaml';
import type { FileSdSpec, Refresh } from './refresh-sd.js';
import { decodeTargetGroups } from './refresh-sd.js';
import type { TargetGroup } from './types.js';

/** A file name pattern (Go's filepath.Match: `*`, `?`, `[...]`, `\` escapes) as a RegExp. */
export function namePattern(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) out += `\\${pattern[++i]}`;
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern ${pattern}`);
      const body = pattern.slice(i + 1, end);
      out += `[${body.startsWith('^') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** The files a pattern names now, sorted (a pattern without wildcards names itself if it exists). */
export function listFiles(pattern: string): string[] {
  const dir = dirname(pattern);
  const name = basename(pattern);
  if (!/[*?[\\]/.test(name)) {
    try {
      return statSync(pattern).isFile() ? [pattern] : [];
    } catch {
      return [];
    }
  }
  const matcher = namePattern(name);
  try {
    return readdirSync(dir)
      .filter((entry) => matcher.test(entry))
      .sort()
      .map((entry) => join(dir, entry))
      .filter((file) => {
        try {
          return statSync(file).isFile();
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

export function readTargetFile(file: string): TargetGroup[] {
  const content = readFileSync(file, 'utf8');
  const json = extname(file).toLowerCase() === '.json';
  // YAML: every scalar as written (a target or label value is a string even when it looks like a number).
  const value: unknown = json ? JSON.parse(content) : (parse(content, { schema: 'failsafe', uniqueKeys: true }) ?? null);
  return decodeTargetGroups(value, (i) => `${file}:${i}`, { __meta_filepath: file }, !json);
}

export function fileSdRefresh(spec: FileSdSpec): Refresh {
  return async (previous) => {
    const groups = new Map<string, TargetGroup>();
    const errors: string[] = [];
    const files = [...new Set(spec.files.flatMap(listFiles))];
    for (const file of files) {
      try {
        for (const group of readTargetFile(file)) groups.set(group.source, group);
      } catch (err) {
        errors.push(`reading ${file}: ${err instanceof Error ? err.message : String(err)}`);
        for (const [source, group] of previous) if (source.startsWith(`${file}:`) && /^\d+$/.test(source.slice(file.length + 1))) groups.set(source, group);
      }
    }
    return { groups, errors };
  };
}

/** Watches the directories of the patterns; calls `changed` (debounced) on any change in them. */
export function watchFileSdDirectories(spec: FileSdSpec, changed: () => void, debounceMs = 100): () => void {
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(spec.files.map(dirname))) {
    try {
      const watcher = watch(dir, { persistent: false }, () => {
        if (timer) return;
        timer = setTimeout(() => {
          timer = undefined;
          changed();
        }, debounceMs);
      });
      watcher.on('error', () => watcher.close());
      watchers.push(watcher);
    } catch {
      // A directory that does not exist yet: the periodic refresh finds files there later.
    }
  }
  return () => {
    if (timer) clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
