import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMetadataStore, openServingStore } from '../src/app/open-stores.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { readTaggerPointer } from '../src/storage/tagger-pointer.js';
import { parseWorkflow } from '../src/workflow/parse-workflow.js';
import { kiban } from './fixtures/kiban-cli.js';
import { syntheticTagLines } from './fixtures/tags/synthetic.js';

describe('kiban artifacts prune (file: artifact store)', () => {
  let dir: string;
  let store: FileArtifactStore;
  let taggerKey: string;
  const file = (name: string): string => join(dir, name);
  const keys = async (): Promise<string[]> => (await store.list('')).map((o) => o.key);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-prune-'));
    store = new FileArtifactStore(file('artifacts'));
    await writeFile(file('train.txt'), `${syntheticTagLines(300, 1).join('\n')}\n`);
    await writeFile(
      file('kiban.yaml'),
      `stores: { serving: "sqlite:${file('serving.db')}", metadata: "sqlite:${file('meta.db')}", artifacts: "file:${file('artifacts')}" }\n`,
    );
    // The tagger being served, published by the CLI to the artifact store.
    const train = await kiban(
      'tags',
      'train',
      '--input',
      file('train.txt'),
      '--output',
      file('local.tagger'),
      '--dim',
      '16',
      '--epoch',
      '5',
      '--threads',
      '1',
      '--publish',
      '--config',
      file('kiban.yaml'),
    );
    expect(train.code, train.stderr).toBe(0);
    const serving = await openServingStore(`sqlite:${file('serving.db')}`);
    const metadata = await openMetadataStore(`sqlite:${file('meta.db')}`);
    try {
      const pointer = await readTaggerPointer(serving);
      taggerKey = pointer!.artifactKey!;
      expect(taggerKey).toBe(`models/${pointer!.modelId}/model.tagger`);
      // Two published versions name their models (and the older its run): the current one and
      // the one a rollback returns to. A workflow run is still running.
      const writer = await serving.beginVersion('v1', {
        modelId: 'als-published',
        runId: 'r-published',
      });
      await writer.commit();
      await (await serving.beginVersion('v2', { modelId: 'als-current' })).commit();
      const definition = parseWorkflow(
        'name: nightly\ntasks:\n  hello:\n    kind: shell\n    run: "true"\n',
        file('nightly.yaml'),
      );
      await metadata.workflows.createRun({
        id: 'r-running',
        workflow: 'nightly',
        logicalDate: '2026-12-01',
        trigger: 'manual',
        params: {},
        definition,
        owner: 'test',
        createdAt: new Date(),
      });
    } finally {
      await metadata.close();
      await serving.close();
    }
    for (const key of [
      'models/als-current/model.bin',
      'models/als-published/model.bin',
      'models/als-old/model.bin',
      'models/als-old/meta.json',
      'runs/r-published/model.json',
      'runs/r-running/interactions.parquet',
      'runs/r-old/model.json',
      'other/kept-anyway.txt',
    ])
      await store.put(key, 'x');
  }, 120_000);
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses counts that are not non-negative integers, naming the flag', async () => {
    for (const [flag, value] of [
      ['--keep-runs', '-1'],
      ['--keep-models', '1.5'],
      ['--keep-runs', 'many'],
      ['--keep-models', ''],
    ] as const) {
      const result = await kiban('artifacts', 'prune', '--config', file('kiban.yaml'), flag, value);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${flag}: must be a non-negative integer, got "${value}"`);
    }
    expect(await keys()).toContain('models/als-old/model.bin');
  });

  it('with the default counts (30 runs, 10 models) deletes nothing here', async () => {
    const before = await keys();
    const result = await kiban('artifacts', 'prune', '--config', file('kiban.yaml'));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe('deleted 0 groups (0 objects), kept 7');
    expect(await keys()).toEqual(before);
  });

  it('--dry-run prints what would go and deletes nothing', async () => {
    const before = await keys();
    const result = await kiban(
      'artifacts',
      'prune',
      '--config',
      file('kiban.yaml'),
      '--keep-runs',
      '0',
      '--keep-models',
      '0',
      '--dry-run',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      'group           objects',
      'models/als-old        2',
      'runs/r-old            1',
      'would delete 2 groups (3 objects), kept 5 (dry run: nothing was deleted)',
      '',
    ]);
    expect(await keys()).toEqual(before);
  });

  it('deletes the unreferenced groups and never the served tagger, a version held for rollback or a running run', async () => {
    const result = await kiban(
      'artifacts',
      'prune',
      '--config',
      file('kiban.yaml'),
      '--keep-runs',
      '0',
      '--keep-models',
      '0',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n').at(-2)).toBe('deleted 2 groups (3 objects), kept 5');
    expect(await keys()).toEqual(
      [
        'models/als-current/model.bin',
        'models/als-published/model.bin',
        taggerKey,
        'other/kept-anyway.txt',
        'runs/r-published/model.json',
        'runs/r-running/interactions.parquet',
      ].sort(),
    );
  });
});
