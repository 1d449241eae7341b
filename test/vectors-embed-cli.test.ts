import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import { readTagExamples } from '../src/models/tags/read-tag-examples.js';
import { Tagger } from '../src/models/tags/tagger.js';
import { type LoadedVectorIndex, loadVectorIndex } from '../src/vectors/stored-index.js';
import { TextEmbedder } from '../src/vectors/text-embeddings.js';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

const TINY_ONNX = 'test/fixtures/onnx/tiny-linear.onnx';

/** Items with a title and tags; `blank` has no text at all, so it cannot be embedded. */
const ITEMS = [
  ['bread-1', 'Sourdough bread does not rise', 'bread|baking'],
  ['bread-2', 'How long to bake a crusty bread loaf', 'bread'],
  ['eggs-1', 'Boiled eggs are hard to peel', 'eggs'],
  ['eggs-2', 'Poached eggs fall apart in the water', 'eggs'],
  ['knife-1', 'How to sharpen a chef knife', 'knives'],
  ['knife-2', 'Which whetstone grit for kitchen knives', 'knives'],
  ['blank', '', ''],
] as const;

/** tanh(x W + b) of scripts/make-tiny-onnx.py's tiny-linear model, for one row of 4 values. */
function tinyLinear(x: readonly number[]): Float32Array {
  const w = (i: number, j: number) => ((((i + 1) * (j + 2)) % 7) - 3) / 4;
  return Float32Array.from([0, 1, 2], (j) =>
    Math.tanh((j - 1) / 10 + x.reduce((s, xi, i) => s + xi * w(i, j), 0)),
  );
}

function fvecs(rows: readonly Float32Array[]): Uint8Array {
  const dim = rows[0].length;
  const bytes = new Uint8Array(rows.length * (4 + 4 * dim));
  const view = new DataView(bytes.buffer);
  rows.forEach((row, i) => {
    view.setInt32(i * (4 + 4 * dim), dim, true);
    row.forEach((x, j) => view.setFloat32(i * (4 + 4 * dim) + 4 + 4 * j, x, true));
  });
  return bytes;
}

/** The JSON object on the last line of `stdout`. */
function lastJson<T>(stdout: string): T {
  const lines = stdout.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** Feature rows of the ONNX tests: item `i` is row `i`. */
const FEATURES = Array.from({ length: 40 }, (_, i) =>
  Array.from({ length: 4 }, (_, j) => Math.round(Math.sin(i * 4 + j) * 1000) / 500),
);

describe('kiban vectors embed', () => {
  const tmp = useTempDir('kiban-vectors-embed-');
  const file = (name: string): string => join(tmp.path, name);
  /** `kiban vectors …` on the test's artifact store. */
  const vectors = (...args: string[]) =>
    kiban('vectors', ...args, '--artifacts', `file:${file('store')}`);
  let embedder: TextEmbedder;

  async function loaded(name: string): Promise<LoadedVectorIndex> {
    const store = await openArtifactStore(`file:${file('store')}`);
    try {
      return await loadVectorIndex(store, name);
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    const examples = await readTagExamples(
      'datasets/cooking-stackexchange/cooking.stackexchange.txt',
    );
    const tagger = await Tagger.train(examples, { dim: 24, lr: 0.5, epoch: 5, wordNgrams: 2 });
    await writeFile(file('tagger.bin'), tagger.toBytes());
    embedder = TextEmbedder.fromTagger(tagger);
    const csv = (s: string) => `"${s.replaceAll('"', '""')}"`;
    await writeFile(
      file('items.csv'),
      `id,title,tags\n${ITEMS.map((r) => r.map(csv).join(',')).join('\n')}\n`,
    );
    await writeFile(
      file('features.csv'),
      `id,f1,f2,f3,f4\n${FEATURES.map((r, i) => [`item-${i}`, ...r].join(',')).join('\n')}\n`,
    );
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      const rows = ITEMS.map(
        ([id, title, tags]) =>
          `('${id}', '${title}', [${tags
            .split('|')
            .filter((t) => t !== '')
            .map((t) => `'${t}'`)
            .join(', ')}]::VARCHAR[])`,
      );
      await con.run(
        `COPY (SELECT * FROM (VALUES ${rows.join(', ')}) t(id, title, tags)) TO '${file('items.parquet')}' (FORMAT parquet)`,
      );
      const vecs = FEATURES.map((r, i) => `(${i}, [${r.join(', ')}]::FLOAT[])`);
      await con.run(
        `COPY (SELECT * FROM (VALUES ${vecs.join(', ')}) t(item, v)) TO '${file('vectors.parquet')}' (FORMAT parquet)`,
      );
    } finally {
      con.closeSync();
      db.closeSync();
    }
    await writeFile(file('features.fvecs'), fvecs(FEATURES.map((r) => Float32Array.from(r))));
  }, 120_000);

  it('embeds item text with a tagger into an index whose neighbours share words', async () => {
    const ran = await vectors(
      'embed',
      '--input',
      file('items.csv'),
      '--text-columns',
      'title,tags',
      '--tagger',
      file('tagger.bin'),
      '--output',
      'recipes',
      '--json',
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toContain('1 items left out');
    expect(ran.stderr).toContain('"blank"');
    expect(ran.stdout).toContain('built exact index "recipes"');
    const summary = lastJson<Record<string, unknown>>(ran.stdout);
    expect(summary).toMatchObject({
      name: 'recipes',
      kind: 'exact',
      count: 6,
      dim: 24,
      skipped: 1,
    });

    // Each stored vector is the embedding of the item's title and tags, joined by a space.
    const { index, ids } = await loaded('recipes');
    try {
      expect(ids).toEqual(ITEMS.slice(0, 6).map((r) => r[0]));
      for (let key = 0; key < 6; key++) {
        const expected = embedder.embed(`${ITEMS[key][1]} ${ITEMS[key][2]}`);
        const stored = index.get(key)!;
        for (let a = 0; a < 24; a++) expect(stored[a]).toBeCloseTo(expected[a], 5);
      }
    } finally {
      index.close();
    }

    // Queried through kiban vectors query: a text about bread finds the bread items first.
    await writeFile(
      file('bread-query.fvecs'),
      fvecs([embedder.embed('my bread dough will not rise'), embedder.embed('peeling eggs')]),
    );
    const answer = await vectors(
      'query',
      '--index',
      'recipes',
      '--queries',
      file('bread-query.fvecs'),
      '--k',
      '2',
      '--json',
    );
    expect(answer.code, answer.stderr).toBe(0);
    const found = lastJson<{ ids: string[][] }>(answer.stdout).ids;
    expect(new Set(found[0])).toEqual(new Set(['bread-1', 'bread-2']));
    expect(new Set(found[1])).toEqual(new Set(['eggs-1', 'eggs-2']));
  });

  it('reads Parquet list columns (tags) as words joined by spaces', async () => {
    const ran = await vectors(
      'embed',
      '--input',
      file('items.parquet'),
      '--text-columns',
      'title,tags',
      '--tagger',
      file('tagger.bin'),
      '--output',
      'recipes-pq',
      '--kind',
      'hnsw',
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toContain('built hnsw index "recipes-pq"');
    const { index, ids, meta } = await loaded('recipes-pq');
    try {
      expect(meta.count).toBe(6);
      const key = ids!.indexOf('bread-1');
      const expected = embedder.embed('Sourdough bread does not rise bread baking');
      const stored = index.get(key)!;
      for (let a = 0; a < 24; a++) expect(stored[a]).toBeCloseTo(expected[a], 5);
    } finally {
      index.close();
    }
  });

  it('encodes feature columns with an ONNX model, each item its own nearest neighbour', async () => {
    const ran = await vectors(
      'embed',
      '--input',
      file('features.csv'),
      '--feature-columns',
      'f1,f2,f3,f4',
      '--onnx',
      TINY_ONNX,
      '--batch-size',
      '16',
      '--metric',
      'l2',
      '--output',
      'tiny',
      '--json',
    );
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toBe('');
    expect(lastJson(ran.stdout)).toMatchObject({ count: 40, dim: 3, metric: 'l2', kind: 'exact' });
    await writeFile(file('tiny-queries.fvecs'), fvecs(FEATURES.slice(0, 5).map(tinyLinear)));
    const answer = await vectors(
      'query',
      '--index',
      'tiny',
      '--queries',
      file('tiny-queries.fvecs'),
      '--k',
      '1',
      '--json',
    );
    expect(lastJson<{ ids: string[][] }>(answer.stdout).ids).toEqual(
      [0, 1, 2, 3, 4].map((i) => [`item-${i}`]),
    );
  });

  it('encodes a Parquet vector column and .fvecs rows (ids: row numbers) alike', async () => {
    const fromColumn = await vectors(
      'embed',
      '--input',
      file('vectors.parquet'),
      '--id-column',
      'item',
      '--vector-column',
      'v',
      '--onnx',
      TINY_ONNX,
      '--output',
      'tiny-pq',
    );
    expect(fromColumn.code, fromColumn.stderr).toBe(0);
    const fromFvecs = await vectors(
      'embed',
      '--input',
      file('features.fvecs'),
      '--onnx',
      TINY_ONNX,
      '--output',
      'tiny-fvecs',
    );
    expect(fromFvecs.code, fromFvecs.stderr).toBe(0);
    for (const name of ['tiny-pq', 'tiny-fvecs']) {
      const { index, ids } = await loaded(name);
      try {
        // Parquet ids are strings; .fvecs rows are keyed by row number, as kiban vectors build keeps them.
        expect(ids).toEqual(name === 'tiny-pq' ? FEATURES.map((_, i) => String(i)) : null);
        const expected = tinyLinear(FEATURES[7]);
        const norm = Math.hypot(...expected); // cosine indexes keep unit vectors
        const stored = index.get(7)!;
        for (let j = 0; j < 3; j++) expect(stored[j]).toBeCloseTo(expected[j] / norm, 5);
      } finally {
        index.close();
      }
    }
  });

  const base = (): string[] => ['embed', '--input', file('items.csv'), '--output', 'bad'];

  it('exits 2 naming the flag on bad usage', async () => {
    const neither = await vectors(...base(), '--text-columns', 'title');
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--tagger: give either --tagger FILE');

    const noColumn = await vectors(
      ...base(),
      '--text-columns',
      'title,summary',
      '--tagger',
      file('tagger.bin'),
    );
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toContain('--text-columns: column "summary" is not in');
  });

  it('exits 2 naming --onnx or the feature flag when the model cannot embed the rows', async () => {
    const features = ['embed', '--input', file('features.csv'), '--output', 'bad'];
    const notTwoD = await vectors(
      ...features,
      '--feature-columns',
      'f1,f2,f3,f4',
      '--onnx',
      'test/fixtures/onnx/tiny-3d-output.onnx',
    );
    expect(notTwoD.code).toBe(2);
    expect(notTwoD.stderr).toContain('--onnx: output "embedding"');
    expect(notTwoD.stderr).toContain('must be 2-D');

    const tooFew = await vectors(...features, '--feature-columns', 'f1,f2,f3', '--onnx', TINY_ONNX);
    expect(tooFew.code).toBe(2);
    expect(tooFew.stderr).toContain('--feature-columns: rows have 3 values; input "x"');
  });

  it('exits 3 naming the file, line and column on bad data, and a missing tagger file', async () => {
    const textAsNumber = await vectors(...base(), '--feature-columns', 'tags', '--onnx', TINY_ONNX);
    expect(textAsNumber.code).toBe(3);
    expect(textAsNumber.stderr).toContain('line 2, column "tags": "bread|baking" is not a number');

    const missing = await vectors(
      ...base(),
      '--text-columns',
      'title',
      '--tagger',
      file('none.bin'),
    );
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('none.bin not found');
  });
});
