import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { describeYamlError } from './yaml-errors.js';

describe('describeYamlError', () => {
  const broken = 'scrape_configs:\n  - job_name: db\n    basic_auth: { username: u, password: hunter2-secret\n';

  it('says what and where, never the text, for thrown and collected errors', () => {
    let thrown: unknown;
    try {
      parse(broken);
    } catch (err) {
      thrown = err;
    }
    for (const error of [thrown, parseDocument(broken, { prettyErrors: false }).errors[0], parseDocument(broken).errors[0]]) {
      const text = describeYamlError(error, broken);
      expect(text).toMatch(/\(line \d+, column \d+\)$/);
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('\n');
    }
  });

  it('finds the line of an error collected without prettyErrors from the source', () => {
    expect(describeYamlError(parseDocument('a: 1\nb: [1, 2\n', { prettyErrors: false }).errors[0], 'a: 1\nb: [1, 2\n')).toMatch(/\(line [23], column \d+\)$/);
  });

  it('passes other errors through', () => {
    expect(describeYamlError(new Error('scrape_configs must be a list'))).toBe('scrape_configs must be a list');
  });
});
