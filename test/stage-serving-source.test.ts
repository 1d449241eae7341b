import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servingSourceOpenerRef } from '../src/app/open-serving-source.js';
import { InvalidArgumentError } from '../src/core/errors.js';
import type { StageRunner } from '../src/stages/runner.js';
import { InlineStageRunner } from '../src/stages/runners/inline-runner.js';
import { ThreadStageRunner } from '../src/stages/runners/thread-runner.js';
import { ZmqStageRunner } from '../src/stages/runners/zmq-runner.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';

/**
 * A `serving` source read by every runner: the store is opened by the composition root's opener,
 * which reaches preprocess workers on other threads and processes as a module reference.
 */
const STAGE = `
export default {
  name: 'keys',
  async *main(records) { for await (const r of records) yield { key: r.key, n: r.items.length }; },
};
`;

const USERS = Array.from({ length: 40 }, (_, k) => `u${String(k).padStart(2, '0')}`);

describe('stage runners read a serving source through the injected opener', () => {
  let dir: string;
  let module: string;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-serving-source-'));
    module = join(dir, 'keys-stage.mjs');
    await writeFile(module, STAGE);
    const path = join(dir, 'serving.db');
    const store = new SqliteServingStore(path);
    const writer = await store.beginVersion('v1', {});
    await writer.putLists(
      'user',
      USERS.map((u, k) => [
        u,
        Array.from({ length: 1 + (k % 3) }, (_, i) => ({ id: i, score: 1 })),
      ]),
    );
    await writer.commit();
    await store.close();
    url = `sqlite:${path}`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const runners: [string, () => StageRunner][] = [
    ['inline', () => new InlineStageRunner()],
    ['threads', () => new ThreadStageRunner()],
    ['zeromq', () => new ZmqStageRunner()],
  ];
  for (const [name, make] of runners)
    it(`${name}: every key of the current version, read by several preprocess workers`, async () => {
      const result = await make().run(
        { module },
        {
          source: { kind: 'serving', url, namespace: 'user' },
          servingSourceOpener: servingSourceOpenerRef(),
          numPreprocessors: 3,
          count: 2,
          batchSize: 7,
          log: () => {},
        },
      );
      expect(result.partitions).toBe(3);
      expect(result.records.read).toBe(USERS.length);
      const outputs = (result.outputs ?? []) as { key: string; n: number }[];
      expect(outputs.map((o) => o.key).sort()).toEqual(USERS);
      expect(outputs.find((o) => o.key === 'u05')?.n).toBe(3);
    }, 60_000);

  it('a run with a serving source and no opener fails before any work, naming the option', async () => {
    const error = await new InlineStageRunner()
      .run({ module }, { source: { kind: 'serving', url, namespace: 'user' }, log: () => {} })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/openServingSource/);
  });

  it('the opener refuses a memory: store, naming source.url', async () => {
    const error = await new ThreadStageRunner()
      .run(
        { module },
        {
          source: { kind: 'serving', url: 'memory:', namespace: 'user' },
          servingSourceOpener: servingSourceOpenerRef(),
          log: () => {},
        },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/source\.url.*private/);
  });
});
