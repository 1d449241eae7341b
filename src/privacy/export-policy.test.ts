import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../core/errors.js';
import { parseExportPolicy, readExportPolicy } from './export-policy.js';

const RECORDS = `
dataset: obd
recipient: research
source: { files: data/x.csv }
columns:
  age: { generalise: { band: [5, 10] } }
  user: pseudonymise
  item: keep
release: { mode: records, k: 5, l: 2, sensitive: item }
pseudonyms: { key: env:KEY }
`;

/** The DataError `text` raises, as `line: message`. */
function problem(text: string): string {
  try {
    parseExportPolicy(text, { file: 'p.yaml' });
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    const e = error as DataError;
    expect(e.location.file).toBe('p.yaml');
    return `${e.location.line}: ${e.message}`;
  }
  throw new Error('expected the policy to be refused');
}

describe('export policies', () => {
  it('reads the bundled examples', async () => {
    const records = await readExportPolicy('examples/exports/obd-users.yaml');
    expect(records.name).toBe('obd-users');
    expect(records.release).toMatchObject({
      mode: 'records',
      k: 10,
      l: 2,
      sensitive: 'clicked_item',
    });
    expect(records.columns.get('user_feature_2')).toEqual({
      kind: 'generalise',
      spec: { top: [6, 4, 2, 1] },
    });
    const aggregates = await readExportPolicy('examples/exports/ml-genre-counts.yaml');
    expect(aggregates.release).toMatchObject({
      mode: 'aggregates',
      noise: 'discrete-gaussian',
      rho: '0.1',
      maxGroupsPerUnit: 5,
      maxRowsPerGroup: 20,
    });
    expect(aggregates.output).toEqual({ format: 'csv', name: 'ml-genre-counts' });
  });

  it('resolves file paths against the base directory and infers the format', () => {
    const p = parseExportPolicy(RECORDS.replace('data/x.csv', '[a.parquet, b.parquet]'), {
      baseDir: '/srv/data',
    });
    expect(p.source).toEqual({
      files: ['/srv/data/a.parquet', '/srv/data/b.parquet'],
      format: 'parquet',
    });
    expect(p.name).toBe('export');
    expect(p.pseudonymKey).toBe('env:KEY');
    const withFileKey = parseExportPolicy(RECORDS.replace('env:KEY', 'file:secrets/k'), {
      baseDir: '/srv',
    });
    expect(withFileKey.pseudonymKey).toBe(`file:${resolve('/srv', 'secrets/k')}`);
  });

  it('names the line and key of each problem', () => {
    expect(problem(RECORDS.replace('k: 5', 'k: 1'))).toMatch(/^9: p\.yaml.*release\.k: .*>=2/);
    expect(problem(RECORDS.replace('recipient: research', 'recipient: Research Team'))).toMatch(
      /^3: .*recipient: must be/,
    );
    expect(problem(`${RECORDS}colour: blue\n`)).toMatch(/Unrecognized key.*colour/);
    expect(problem(RECORDS.replace('band: [5, 10]', 'band: [5], prefix: [2]'))).toMatch(
      /^6: .*columns\.age\.generalise: give exactly one of band, date, prefix, map or top \(got band, prefix\)/,
    );
    expect(problem(RECORDS.replace('item: keep', 'item: pseudonymise'))).toMatch(
      /release\.sensitive: the sensitive column must be kept/,
    );
    expect(problem(RECORDS.replace('pseudonyms: { key: env:KEY }', ''))).toMatch(
      /pseudonyms: pseudonymised columns need pseudonyms\.key/,
    );
    expect(problem(RECORDS.replace('env:KEY', 'hunter2'))).toMatch(
      /pseudonyms\.key: must be env:NAME or file:PATH/,
    );
    expect(problem(RECORDS.replace('l: 2, ', ''))).toMatch(
      /release\.l: l and sensitive go together/,
    );
    expect(problem('dataset: [')).toMatch(/not valid YAML/);
  });

  it('checks aggregates: budget, noise and keys', () => {
    const base = `
dataset: ml
recipient: research
source: { query: 'SELECT 1 AS g, 2 AS u' }
columns: { g: keep }
release:
  mode: aggregates
  groupBy: [g]
  privacyUnit: [u]
  maxGroupsPerUnit: 3
  rho: 0.01
  keys: { threshold: { delta: 1e-7 } }
budget: { rho: 0.1, delta: 1e-6 }
`;
    const ok = parseExportPolicy(base);
    expect(ok.release).toMatchObject({
      noise: 'discrete-gaussian',
      maxRowsPerGroup: 1,
      measures: [{ kind: 'count' }],
      keys: { threshold: { delta: 1e-7 } },
    });
    expect(problem(base.replace('rho: 0.01', 'rho: 0.01\n  epsilon: 1'))).toMatch(
      /release: give either epsilon \(pure DP\) or rho \(zCDP\)/,
    );
    expect(problem(base.replace('rho: 0.01', 'epsilon: 1\n  noise: discrete-gaussian'))).toMatch(
      /release\.noise: discrete-gaussian takes rho/,
    );
    expect(problem(base.replace('budget: { rho: 0.1, delta: 1e-6 }', ''))).toMatch(
      /budget: aggregates need a budget/,
    );
    expect(problem(base.replace('budget: { rho: 0.1,', 'budget: { epsilon: 1,'))).toMatch(
      /budget\.rho: a zCDP release \(rho\) needs a rho budget/,
    );
    expect(problem(base.replace('keys: { threshold: { delta: 1e-7 } }', 'keys: {}'))).toMatch(
      /release\.keys: give keys\.public/,
    );
    expect(problem(base.replace('groupBy: [g]', 'groupBy: [h]'))).toMatch(
      /release\.groupBy\.0: group column "h" is not under columns/,
    );
    expect(problem(base.replace('columns: { g: keep }', 'columns: { g: pseudonymise }'))).toMatch(
      /group column "g" cannot be pseudonymised/,
    );
    expect(
      problem(
        base.replace(
          'maxGroupsPerUnit: 3',
          'maxGroupsPerUnit: 3\n  measures: [{ sum: x, lower: 5, upper: 1 }]',
        ),
      ),
    ).toMatch(/release\.measures\.0\.upper: must be above lower/);
  });

  it('matches the README: its policy blocks are the example files', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [
      ...readme.matchAll(/<!-- docs-test: export-policy -->\n```yaml\n([\s\S]*?)```/g),
    ].map((m) => parseExportPolicy(m[1]));
    const examples = await Promise.all(
      ['obd-users', 'ml-genre-counts'].map((n) => readExportPolicy(`examples/exports/${n}.yaml`)),
    );
    expect(blocks).toHaveLength(2);
    blocks.forEach((b, i) => {
      const { file: _, ...example } = examples[i];
      expect(b).toEqual(example);
    });
  });
});
