import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../src/core/random.js';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

function fvecs(vectors: Float32Array, dim: number): Uint8Array {
  const n = vectors.length / dim;
  const bytes = new Uint8Array(n * (4 + 4 * dim));
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    view.setInt32(i * (4 + 4 * dim), dim, true);
    for (let j = 0; j < dim; j++)
      view.setFloat32(i * (4 + 4 * dim) + 4 + 4 * j, vectors[i * dim + j], true);
  }
  return bytes;
}

/** The k nearest rows of each query in float64: squared L2 (lowest first), inner product or cosine (highest first). */
function bruteForce(
  data: Float32Array,
  queries: Float32Array,
  dim: number,
  k: number,
  metric: 'l2' | 'cosine' | 'ip',
): number[][] {
  const n = data.length / dim;
  const out: number[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const scored: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      let dot = 0;
      let d2 = 0;
      let nx = 0;
      let nq = 0;
      for (let j = 0; j < dim; j++) {
        const x = data[i * dim + j];
        const y = queries[q * dim + j];
        dot += x * y;
        d2 += (x - y) ** 2;
        nx += x * x;
        nq += y * y;
      }
      scored.push([i, metric === 'l2' ? d2 : metric === 'ip' ? -dot : -dot / Math.sqrt(nx * nq)]);
    }
    scored.sort((a, b) => a[1] - b[1]);
    out.push(scored.slice(0, k).map(([i]) => i));
  }
  return out;
}

/** The JSON object on the last line of `stdout`. */
function lastJson(stdout: string): { ids: (number | string)[][]; seconds: number } {
  const lines = stdout.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

describe('kiban vectors', () => {
  const tmp = useTempDir('kiban-vectors-cli-');
  const dim = 12;
  const random = new Random(42);
  const data = random.fillGaussian(new Float32Array(400 * dim), 1);
  const queries = random.fillGaussian(new Float32Array(15 * dim), 1);
  const file = (name: string): string => join(tmp.path, name);
  /** `kiban vectors …` on the test's artifact store. */
  const vectors = (...args: string[]) =>
    kiban('vectors', ...args, '--artifacts', `file:${file('store')}`);
  /** The `--json` answer of `kiban vectors query` for the test's queries. */
  const query = async (index: string, ...args: string[]) => {
    const ran = await vectors(
      'query',
      '--index',
      index,
      '--queries',
      file('queries.fvecs'),
      '--json',
      ...args,
    );
    expect(ran.stderr).toBe('');
    return lastJson(ran.stdout);
  };

  beforeAll(async () => {
    await writeFile(file('base.fvecs'), fvecs(data, dim));
    await writeFile(file('queries.fvecs'), fvecs(queries, dim));
  });

  it('builds an index from .fvecs, answers queries with the brute-force row ids, and describes it', async () => {
    const built = await vectors(
      'build',
      '--input',
      file('base.fvecs'),
      '--output',
      'base',
      '--metric',
      'l2',
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(built.stdout).toContain('built exact index "base"');

    const answer = await query('base', '--k', '7');
    expect(answer.ids).toEqual(bruteForce(data, queries, dim, 7, 'l2'));
    expect(answer.seconds).toBeGreaterThanOrEqual(0);
    // The index named by its folder, whatever the configured store.
    const byPath = await kiban(
      'vectors',
      'query',
      '--index',
      file('store/vectors/base'),
      '--queries',
      file('queries.fvecs'),
      '--k',
      '3',
      '--exact',
      '--json',
    );
    expect(byPath.stderr).toBe('');
    expect(lastJson(byPath.stdout).ids).toEqual(bruteForce(data, queries, dim, 3, 'l2'));
    const notIndex = await kiban('vectors', 'info', file('store/base'));
    expect(notIndex.code).toBe(2);
    expect(notIndex.stderr).toContain('is neither an index name nor an index folder');

    const info = await vectors('info', 'base', '--json');
    expect(info.code).toBe(0);
    const described = JSON.parse(info.stdout);
    expect(described).toMatchObject({
      kind: 'exact',
      dim,
      metric: 'l2',
      count: 400,
      ids: 'row-numbers',
    });
    expect(described.bytes).toBeGreaterThan(400 * dim * 4);
  });

  it('builds an HNSW index (--kind hnsw) whose answers match brute force, and whose --exact answers are exact', async () => {
    const built = await vectors(
      'build',
      '--input',
      file('base.fvecs'),
      '--output',
      'graph',
      '--kind',
      'hnsw',
      '--metric',
      'ip',
    );
    expect(built.stderr).toBe('');
    expect(built.stdout).toContain('built hnsw index "graph"');
    const truth = bruteForce(data, queries, dim, 10, 'ip');
    const approx = await query('graph', '--ef', '128');
    let found = 0;
    for (let q = 0; q < truth.length; q++)
      found += truth[q].filter((i) => approx.ids[q].includes(i)).length;
    expect(found / (truth.length * 10)).toBeGreaterThanOrEqual(0.95);
    expect((await query('graph', '--exact')).ids).toEqual(truth);
  });

  it('answers with string ids for a CSV-built cosine index; bad flags exit 2 naming the flag', async () => {
    const input = file('items.csv');
    const rows = ['id,vector'];
    for (let i = 0; i < 400; i++)
      rows.push(`sku-${i},"${JSON.stringify([...data.subarray(i * dim, (i + 1) * dim)])}"`);
    await writeFile(input, `${rows.join('\n')}\n`);
    expect((await vectors('build', '--input', input, '--output', 'items')).code).toBe(0);
    expect((await query('items')).ids).toEqual(
      bruteForce(data, queries, dim, 10, 'cosine').map((row) => row.map((i) => `sku-${i}`)),
    );

    const badMetric = await vectors('build', '--input', input, '--output', 'x', '--metric', 'dot');
    expect(badMetric.code).toBe(2);
    expect(badMetric.stderr).toContain('--metric');
    const badK = await vectors('query', '--index', 'items', '--queries', input, '--k', '0');
    expect(badK.code).toBe(2);
    expect(badK.stderr).toContain('--k: must be a positive integer');
    await writeFile(file('wrong.fvecs'), fvecs(new Float32Array(3), 3));
    const mismatch = await vectors('query', '--index', 'items', '--queries', file('wrong.fvecs'));
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain('--queries: vectors have 3 dimensions; index "items" has 12');
    const missing = await vectors('info', 'nothing');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('vector index "nothing" not found');
  });
});
