import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { kiban } from './fixtures/kiban-cli.js';
import { useTempDir } from './fixtures/temp-dir.js';

describe('kiban vectors build: attributes and folding; kiban artifacts prune: vectors/', () => {
  const tmp = useTempDir('kiban-vectors-fold-cli-');

  // One store and metadata file across the cases below, which run in order: each CLI run starts
  // a process through tsx (seconds on a loaded machine), so the story is told in three tests.
  const file = (name: string) => join(tmp.path, name);
  const stores = () => [
    '--artifacts',
    `file:${file('store')}`,
    '--metadata',
    `sqlite:${file('meta.db')}`,
  ];
  const lines = ['id,vector,category,lang'];
  for (let i = 0; i < 20; i++)
    lines.push(
      `item-${i},"[${i}, ${20 - i}, 1]",${i % 2 === 0 ? 'stickers' : 'fonts'},${i < 10 ? 'ja' : ''}`,
    );
  let seq = 0;
  const info = async () => {
    const ran = await kiban(
      'vectors',
      'info',
      'items',
      '--json',
      '--artifacts',
      `file:${file('store')}`,
    );
    expect(ran.code, ran.stderr).toBe(0);
    return JSON.parse(ran.stdout);
  };

  it('keeps CSV columns as attributes, and --no-fold leaves the API changes out', async () => {
    await writeFile(file('items.csv'), `${lines.join('\n')}\n`);
    // A change made over the API before the build: a new item with its attributes.
    const metadata = KyselyMetadataStore.sqlite(file('meta.db'));
    await metadata.migrate();
    seq = await metadata.vectorUpdates.upsert(
      'items',
      'added',
      Float32Array.from([5, 5, 5]),
      new Date(),
      { category: 'emoji' },
    );
    await metadata.close();

    const unfolded = await kiban(
      'vectors',
      'build',
      '--input',
      file('items.csv'),
      '--output',
      'items',
      '--attributes',
      'category,lang',
      '--no-fold',
      ...stores(),
    );
    expect(unfolded.code, unfolded.stderr).toBe(0);
    expect(unfolded.stdout).toContain('attributes category, lang');
    expect(await info()).toMatchObject({
      count: 20,
      attributes: 'category,lang',
      folded_through: 0,
    });
  });

  it('folds the API changes into the next build and answers from them', async () => {
    expect(seq).toBeGreaterThan(0); // the first case ran
    const folded = await kiban(
      'vectors',
      'build',
      '--input',
      file('items.csv'),
      '--output',
      'items',
      '--attributes',
      'category,lang',
      ...stores(),
    );
    expect(folded.code, folded.stderr).toBe(0);
    expect(folded.stdout).toContain(`folded 1 change (through ${seq})`);
    // The first version (which folded nothing) is kept, and the input lacks `added`: it stays.
    expect(folded.stdout).toContain('deleted 0 no longer needed');
    expect(await info()).toMatchObject({
      count: 21,
      attributes: 'category,lang',
      folded_through: seq,
    });

    // The folded item answers filtered queries from the stored version.
    await writeFile(file('q.csv'), 'id,vector\nq,"[5, 5, 5]"\n');
    const query = await kiban(
      'vectors',
      'query',
      '--index',
      'items',
      '--queries',
      file('q.csv'),
      '--k',
      '1',
      '--json',
      ...stores().slice(0, 2),
    );
    expect(query.code, query.stderr).toBe(0);
    expect(JSON.parse(query.stdout.trim().split('\n').at(-1)!).ids).toEqual([['added']]);
  });

  it('refuses --attributes on fvecs input and a column the file lacks, naming them', async () => {
    const fvecs = await kiban(
      'vectors',
      'build',
      '--input',
      file('x.fvecs'),
      '--output',
      'x',
      '--attributes',
      'category',
      ...stores(),
    );
    expect(fvecs.code).not.toBe(0);
    expect(fvecs.stderr).toContain('--attributes');
    const missing = await kiban(
      'vectors',
      'build',
      '--input',
      file('items.csv'),
      '--output',
      'x',
      '--attributes',
      'colour',
      '--no-fold',
      ...stores(),
    );
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('colour');
  });

  it('prunes vectors/ versions and deletes changes once the input makes them moot', async () => {
    expect(seq).toBeGreaterThan(0); // the first case ran
    // A build that died long ago left a partial version; prune keeps only the current version
    // (--keep-vector-versions 0) and leaves the changes to the builds.
    await mkdir(file('store/vectors/items/20200101T000000000Z-dead00'), { recursive: true });
    const partial = file('store/vectors/items/20200101T000000000Z-dead00/index.bin');
    await writeFile(partial, 'x');
    await utimes(partial, new Date('2020-01-01'), new Date('2020-01-01'));
    await writeFile(
      file('kiban.yaml'),
      `stores: { serving: "sqlite:${file('serving.db')}", metadata: "sqlite:${file('meta.db')}", artifacts: "file:${file('store')}" }\n`,
    );
    const pruned = await kiban(
      'artifacts',
      'prune',
      '--config',
      file('kiban.yaml'),
      '--keep-vector-versions',
      '0',
    );
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain('vectors/items/20200101T000000000Z-dead00');
    expect(pruned.stdout.match(/^vectors\/items\//gm)).toHaveLength(2);
    expect(await info()).toMatchObject({ count: 21, folded_through: seq });

    // An input that now has `added` makes its change moot; every stored version folded it: it goes.
    await writeFile(file('items2.csv'), `${lines.join('\n')}\nadded,"[4, 4, 4]",emoji,\n`);
    const rebuilt = await kiban(
      'vectors',
      'build',
      '--input',
      file('items2.csv'),
      '--output',
      'items',
      '--attributes',
      'category',
      ...stores(),
    );
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toContain('folded 1 change');
    expect(rebuilt.stdout).toContain('deleted 1 no longer needed');
    const after = KyselyMetadataStore.sqlite(file('meta.db'));
    await after.migrate();
    expect(await after.vectorUpdates.list('items')).toEqual([]);
    await after.close();
  });
});
