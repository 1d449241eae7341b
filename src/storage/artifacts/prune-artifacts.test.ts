import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../core/errors.js';
import { FileArtifactStore } from './file-artifact-store.js';
import { pruneArtifacts } from './prune-artifacts.js';

/** Writes `key` and sets its modification time to `day` days after 1 Dec 2026. */
async function put(store: FileArtifactStore, key: string, day: number): Promise<void> {
  await store.put(key, key);
  const time = new Date(Date.UTC(2026, 11, 1 + day));
  await utimes(join(store.root, ...key.split('/')), time, time);
}

describe('pruneArtifacts', () => {
  let dir = '';
  let store: FileArtifactStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-prune-'));
    store = new FileArtifactStore(dir);
    // Five runs, r1 oldest … r5 newest; r3 has an old file and a newer one (its age is the newer).
    for (const [i, run] of ['r1', 'r2', 'r3', 'r4', 'r5'].entries())
      await put(store, `runs/${run}/candidates.csv`, i * 2);
    await put(store, 'runs/r3/work/part-0.bin', 9);
    // Four models, m1 oldest … m4 newest, each with two files.
    for (const [i, model] of ['m1', 'm2', 'm3', 'm4'].entries()) {
      await put(store, `models/${model}/model.bin`, i);
      await put(store, `models/${model}/meta.json`, i);
    }
    // Not managed by retention, however old.
    await put(store, 'other/notes.txt', 0);
    await put(store, 'runs-archive/r0/x', 0);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the newest groups and the referenced ones, and deletes the rest whole', async () => {
    // Newest runs: r5 (day 8), r3 (day 9 through its part file) → kept; r1 is referenced by a
    // published version's candidates; r2 and r4 go. Newest model m4 kept; m1 pinned; m2, m3 go.
    const result = await pruneArtifacts(store, {
      keep: { runs: 2, models: 1 },
      referenced: ['runs/r1/candidates.csv', 'models/m1'],
    });
    expect(result.kept).toEqual(['models/m1', 'models/m4', 'runs/r1', 'runs/r3', 'runs/r5']);
    expect(result.deleted).toEqual(['models/m2', 'models/m3', 'runs/r2', 'runs/r4']);
    expect(result.deletedKeys).toEqual([
      'models/m2/meta.json',
      'models/m2/model.bin',
      'models/m3/meta.json',
      'models/m3/model.bin',
      'runs/r2/candidates.csv',
      'runs/r4/candidates.csv',
    ]);
    expect((await store.list()).map((i) => i.key)).toEqual([
      'models/m1/meta.json',
      'models/m1/model.bin',
      'models/m4/meta.json',
      'models/m4/model.bin',
      'other/notes.txt',
      'runs-archive/r0/x',
      'runs/r1/candidates.csv',
      'runs/r3/candidates.csv',
      'runs/r3/work/part-0.bin',
      'runs/r5/candidates.csv',
    ]);
    // A second prune with the same policy finds nothing more to delete.
    expect(
      (
        await pruneArtifacts(store, {
          keep: { runs: 2, models: 1 },
          referenced: ['runs/r1/candidates.csv', 'models/m1'],
        })
      ).deleted,
    ).toEqual([]);
  });

  it('keeps 30 runs and 10 models by default', async () => {
    const result = await pruneArtifacts(store, { referenced: [] });
    expect(result.deleted).toEqual([]);
    expect(result.kept).toHaveLength(9);
  });

  it('with keep 0 deletes everything unreferenced; a folder reference keeps all it contains', async () => {
    const result = await pruneArtifacts(store, {
      keep: { runs: 0, models: 0 },
      referenced: ['models/', 'runs/r2/'],
    });
    expect(result.kept).toEqual(['models/m1', 'models/m2', 'models/m3', 'models/m4', 'runs/r2']);
    expect(result.deleted).toEqual(['runs/r1', 'runs/r3', 'runs/r4', 'runs/r5']);
  });

  it('reports without deleting on a dry run', async () => {
    const before = await store.list();
    const result = await pruneArtifacts(store, {
      keep: { runs: 1, models: 1 },
      referenced: [],
      dryRun: true,
    });
    expect(result.deleted).toEqual([
      'models/m1',
      'models/m2',
      'models/m3',
      'runs/r1',
      'runs/r2',
      'runs/r4',
      'runs/r5',
    ]);
    expect(await store.list()).toEqual(before);
  });

  it('breaks ties in age by name, keeping the greater', async () => {
    const same = new FileArtifactStore(join(dir, 'ties'));
    for (const run of ['a', 'c', 'b']) await put(same, `runs/${run}/x`, 1);
    const result = await pruneArtifacts(same, { keep: { runs: 1, models: 0 }, referenced: [] });
    expect(result.kept).toEqual(['runs/c']);
    expect(result.deleted).toEqual(['runs/a', 'runs/b']);
  });

  it('refuses counts that are not non-negative integers, naming the field', async () => {
    for (const [keep, field] of [
      [{ runs: -1 }, 'keep.runs'],
      [{ models: 1.5 }, 'keep.models'],
      [{ runs: Number.NaN }, 'keep.runs'],
    ] as const) {
      const error = await pruneArtifacts(store, { keep, referenced: [] }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).field).toBe(field);
    }
    expect(await store.list()).toHaveLength(16);
  });
});
