import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('builds an index from .fvecs, answers queries with the brute-force row ids, and describes it', async () => {
    const input = join(tmp.path, 'base.fvecs');
    const queryFile = join(tmp.path, 'queries.fvecs');
    await writeFile(input, fvecs(data, dim));
    await writeFile(queryFile, fvecs(queries, dim));
    const store = `file:${join(tmp.path, 'store')}`;

    const built = await kiban(
      'vectors',
      'build',
      '--input',
      input,
      '--output',
      'base',
      '--metric',
      'l2',
      '--artifacts',
      store,
    );
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    expect(built.stdout).toContain('built exact index "base"');

    const answered = await kiban(
      'vectors',
      'query',
      '--index',
      'base',
      '--queries',
      queryFile,
      '--k',
      '7',
      '--json',
      '--artifacts',
      store,
    );
    expect(answered.code).toBe(0);
    const answer = lastJson(answered.stdout);
    expect(answer.ids).toEqual(bruteForce(data, queries, dim, 7, 'l2'));
    expect(answer.seconds).toBeGreaterThanOrEqual(0);

    const exact = await kiban(
      'vectors',
      'query',
      '--index',
      'base',
      '--queries',
      queryFile,
      '--k',
      '3',
      '--exact',
      '--json',
      '--artifacts',
      store,
    );
    expect(lastJson(exact.stdout).ids).toEqual(bruteForce(data, queries, dim, 3, 'l2'));

    const info = await kiban('vectors', 'info', 'base', '--json', '--artifacts', store);
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
    const input = join(tmp.path, 'hnsw.fvecs');
    const queryFile = join(tmp.path, 'hnsw-queries.fvecs');
    await writeFile(input, fvecs(data, dim));
    await writeFile(queryFile, fvecs(queries, dim));
    const store = `file:${join(tmp.path, 'store')}`;
    const built = await kiban(
      'vectors',
      'build',
      '--input',
      input,
      '--output',
      'graph',
      '--kind',
      'hnsw',
      '--metric',
      'ip',
      '--artifacts',
      store,
    );
    expect(built.stderr).toBe('');
    expect(built.stdout).toContain('built hnsw index "graph"');
    const truth = bruteForce(data, queries, dim, 10, 'ip');
    const approx = lastJson(
      (
        await kiban(
          'vectors',
          'query',
          '--index',
          'graph',
          '--queries',
          queryFile,
          '--ef',
          '128',
          '--json',
          '--artifacts',
          store,
        )
      ).stdout,
    );
    let found = 0;
    for (let q = 0; q < truth.length; q++)
      found += truth[q].filter((i) => approx.ids[q].includes(i)).length;
    expect(found / (truth.length * 10)).toBeGreaterThanOrEqual(0.95);
    const exact = lastJson(
      (
        await kiban(
          'vectors',
          'query',
          '--index',
          'graph',
          '--queries',
          queryFile,
          '--exact',
          '--json',
          '--artifacts',
          store,
        )
      ).stdout,
    );
    expect(exact.ids).toEqual(truth);
  });

  it('answers with string ids for a CSV-built cosine index; bad flags exit 2 naming the flag', async () => {
    const input = join(tmp.path, 'items.csv');
    const rows = ['id,vector'];
    for (let i = 0; i < 400; i++)
      rows.push(`sku-${i},"${JSON.stringify([...data.subarray(i * dim, (i + 1) * dim)])}"`);
    await writeFile(input, `${rows.join('\n')}\n`);
    const queryFile = join(tmp.path, 'q.fvecs');
    await writeFile(queryFile, fvecs(queries, dim));
    const store = `file:${join(tmp.path, 'store')}`;

    const built = await kiban(
      'vectors',
      'build',
      '--input',
      input,
      '--output',
      'items',
      '--artifacts',
      store,
    );
    expect(built.code).toBe(0);
    const answered = await kiban(
      'vectors',
      'query',
      '--index',
      'items',
      '--queries',
      queryFile,
      '--json',
      '--artifacts',
      store,
    );
    expect(answered.code).toBe(0);
    expect(lastJson(answered.stdout).ids).toEqual(
      bruteForce(data, queries, dim, 10, 'cosine').map((row) => row.map((i) => `sku-${i}`)),
    );

    const badMetric = await kiban(
      'vectors',
      'build',
      '--input',
      input,
      '--output',
      'x',
      '--metric',
      'dot',
    );
    expect(badMetric.code).toBe(2);
    expect(badMetric.stderr).toContain('--metric');
    const badK = await kiban(
      'vectors',
      'query',
      '--index',
      'items',
      '--queries',
      queryFile,
      '--k',
      '0',
    );
    expect(badK.code).toBe(2);
    expect(badK.stderr).toContain('--k: must be a positive integer');
    const wrongDim = join(tmp.path, 'wrong.fvecs');
    await writeFile(wrongDim, fvecs(new Float32Array(3), 3));
    const mismatch = await kiban(
      'vectors',
      'query',
      '--index',
      'items',
      '--queries',
      wrongDim,
      '--artifacts',
      store,
    );
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain('--queries: vectors have 3 dimensions; index "items" has 12');
    const missing = await kiban('vectors', 'info', 'nothing', '--artifacts', store);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('vector index "nothing" not found');
  });
});
