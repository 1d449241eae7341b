import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { InvalidArgumentError, NotFoundError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { FileArtifactStore } from '../storage/artifacts/file-artifact-store.js';
import { KyselyMetadataStore } from '../storage/kysely-metadata-store.js';
import { vectorIndexKind } from './index-kinds.js';
import { LiveVectorIndex } from './live-vector-index.js';
import { saveVectorIndex } from './stored-index.js';

/** A logger that keeps what it is told, for assertions. */
function recordingLogger(lines: string[]): Logger {
  const log = (fields: unknown, message?: string) =>
    void lines.push(typeof fields === 'string' ? fields : (message ?? ''));
  const logger: Logger = {
    info: log,
    warn: log,
    error: log,
    debug: log,
    child: () => logger,
  } as unknown as Logger;
  return logger;
}

/** An l2 exact index over `rows` (each a vector), keys 0…n-1. */
async function indexOf(rows: number[][]) {
  const index = await vectorIndexKind('exact').create(rows[0]!.length, 'l2');
  await index.add(
    Uint32Array.from(rows, (_, i) => i),
    Float32Array.from(rows.flat()),
  );
  return index;
}

describe('LiveVectorIndex', () => {
  const tmp = useTempDir('kiban-live-vectors-');
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('loads row-number indexes, keys new ids past the loaded ones, and skips kept changes of another dimension', async () => {
    const artifacts = new FileArtifactStore(join(tmp.path, 'a1'));
    const metadata = KyselyMetadataStore.sqlite(':memory:');
    open.push(metadata);
    await metadata.migrate();
    const lines: string[] = [];
    const live = new LiveVectorIndex(artifacts, 'vecs', {
      updates: metadata.vectorUpdates,
      logger: recordingLogger(lines),
    });
    open.push(live);
    expect(await live.refresh()).toBeNull();
    await expect(live.upsert('x', new Float32Array([1, 1]))).rejects.toBeInstanceOf(NotFoundError);

    // A change kept from an earlier index of another dimension is skipped and reported.
    await metadata.vectorUpdates.upsert('vecs', 'old', new Float32Array([1, 2, 3]), new Date());
    await saveVectorIndex(
      artifacts,
      'vecs',
      await indexOf([
        [0, 0],
        [10, 0],
        [0, 10],
      ]),
      null,
    );
    const snapshot = (await live.refresh())!;
    expect(snapshot.ids).toEqual(['0', '1', '2']);
    expect(snapshot.index.size).toBe(3);
    expect(lines.some((l) => l.includes('"old"') && l.includes('dimension 2'))).toBe(true);

    await live.upsert('new', new Float32Array([9, 9]));
    expect(snapshot.keys.get('new')).toBe(3);
    const [near] = await live.search(snapshot, new Float32Array([9, 8]), { k: 2 });
    expect(near!.map((h) => h.id)).toEqual(['new', '1']);
    const [excluded] = await live.search(snapshot, new Float32Array([9, 8]), {
      k: 1,
      exclude: ['new'],
    });
    expect(excluded!.map((h) => h.id)).toEqual(['1']);

    await expect(live.upsert('new', new Float32Array([1]), 'body.vector')).rejects.toThrow(
      /^body\.vector: has 1 numbers/,
    );
    await expect(live.upsert('new', new Float32Array([1, Number.NaN]))).rejects.toThrow(
      /^vector: element 1/,
    );
    expect(await live.delete('1')).toBe(true);
    expect(await live.delete('1')).toBe(false);
    const [after] = await live.search(snapshot, new Float32Array([10, 0]), { k: 3 });
    expect(after!.map((h) => h.id)).not.toContain('1');
    await expect(live.search(snapshot, new Float32Array([1, 2, 3]), { k: 1 })).rejects.toThrow(
      /^vector: /,
    );
  });

  it('applies a change made while a new version loads to that version', async () => {
    const artifacts = new FileArtifactStore(join(tmp.path, 'a2'));
    const metadata = KyselyMetadataStore.sqlite(':memory:');
    open.push(metadata);
    await metadata.migrate();
    const live = new LiveVectorIndex(artifacts, 'items', {
      updates: metadata.vectorUpdates,
      logger: recordingLogger([]),
    });
    open.push(live);
    await saveVectorIndex(artifacts, 'items', await indexOf([[0, 0]]), ['a']);
    const first = (await live.refresh())!;
    await saveVectorIndex(
      artifacts,
      'items',
      await indexOf([
        [0, 0],
        [5, 5],
      ]),
      ['a', 'b'],
    );
    // Both started together: the change lands on the old version or is listed by the new one.
    const [swapped] = await Promise.all([
      live.refresh(),
      live.upsert('c', new Float32Array([7, 7])),
    ]);
    expect(swapped!.version).not.toBe(first.version);
    expect(live.current).toBe(swapped);
    const [hits] = await live.search(swapped!, new Float32Array([7, 7]), { k: 1 });
    expect(hits!.map((h) => h.id)).toEqual(['c']);
  });

  it('refuses changes without an update store, and bad names and poll intervals', async () => {
    const artifacts = new FileArtifactStore(join(tmp.path, 'a3'));
    expect(() => new LiveVectorIndex(artifacts, '../x')).toThrow(/^name: /);
    expect(() => new LiveVectorIndex(artifacts, 'x', { pollMs: 0 })).toThrow(/^pollMs: /);
    const live = new LiveVectorIndex(artifacts, 'plain', { logger: recordingLogger([]) });
    open.push(live);
    await saveVectorIndex(artifacts, 'plain', await indexOf([[1, 2]]), ['a']);
    expect((await live.refresh())?.ids).toEqual(['a']);
    await expect(live.upsert('b', new Float32Array([1, 2]))).rejects.toThrow(/^updates: /);
    await expect(live.delete('a')).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
