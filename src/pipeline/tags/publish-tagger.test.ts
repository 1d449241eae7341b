import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticTagLines } from '../../../test/fixtures/tags/synthetic.js';
import type { Logger } from '../../core/log.js';
import { publishTagger, taggerArtifactKey } from './publish-tagger.js';
import { FileArtifactStore } from '../../storage/artifacts/file-artifact-store.js';
import type { ModelRecord } from '../../storage/metadata-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { TAGGER_POINTER_KEY } from '../../storage/tagger-pointer.js';
import { LiveTagger } from '../../models/tags/live-tagger.js';
import { Tagger } from '../../models/tags/tagger.js';

/** A logger that keeps its entries, to assert on. */
function recordingLogger(): Logger & {
  entries: { level: string; fields: Record<string, unknown>; message: string }[];
} {
  const entries: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  const at =
    (level: string) =>
    (a: string | Record<string, unknown>, b?: string): void => {
      entries.push(
        typeof a === 'string'
          ? { level, fields: {}, message: a }
          : { level, fields: a, message: b ?? '' },
      );
    };
  const logger = {
    entries,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
  };
  return logger;
}

describe('publishTagger and LiveTagger', () => {
  let dir: string;
  let tagger: Tagger;
  const models: ModelRecord[] = [];
  const metadata = { insertModel: async (m: ModelRecord) => void models.push(m) };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-live-tagger-'));
    const examples = syntheticTagLines(300, 1).map((line) => {
      const tags = [...line.matchAll(/__label__(\S+)/g)].map((m) => m[1]);
      return { text: line.replace(/__label__\S+\s*/g, ''), tags };
    });
    tagger = await Tagger.train(examples, { dim: 16, epoch: 10, lr: 0.5, threads: 1 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a tagger published by key from the artifact store it is given, and logs the swap', async () => {
    const store = new FileArtifactStore(join(dir, 'store'));
    const serving = new MemoryServingStore();
    const pointer = await publishTagger({
      tagger,
      artifacts: `file:${join(dir, 'store')}`,
      openArtifacts: async () => store,
      serving,
      metadata,
    });
    expect(pointer.artifactKey).toBe(taggerArtifactKey(pointer.modelId));
    expect(pointer.artifactKey).toBe(`models/${pointer.modelId}/model.tagger`);
    expect(pointer.artifactPath).toBe(pointer.artifactKey);
    expect(models.at(-1)).toMatchObject({ id: pointer.modelId, artifactPath: pointer.artifactKey });
    expect((await store.list('models/')).map((o) => o.key)).toEqual([pointer.artifactKey]);

    const logger = recordingLogger();
    const live = new LiveTagger(serving, { artifacts: store, logger });
    const loaded = await live.refresh();
    expect(loaded?.pointer.modelId).toBe(pointer.modelId);
    expect(loaded?.tagger.predict('a cherry and a grape', { k: 1 })[0].tag).toBe('fruit');
    expect(logger.entries).toEqual([
      {
        level: 'info',
        fields: { modelId: pointer.modelId, tags: 4 },
        message: `tags: now answering with ${pointer.modelId} (4 tags)`,
      },
    ]);
  });

  it('still loads a pointer holding only a local path (published to a plain directory, or before keys)', async () => {
    const serving = new MemoryServingStore();
    const pointer = await publishTagger({
      tagger,
      artifacts: join(dir, 'plain'),
      serving,
      metadata,
    });
    expect(pointer.artifactKey).toBeUndefined();
    expect(pointer.artifactPath).toBe(join(dir, 'plain', `${pointer.modelId}.tagger`));
    // No artifact store: the path alone finds it.
    const live = new LiveTagger(serving, { logger: recordingLogger() });
    expect((await live.refresh())?.pointer.modelId).toBe(pointer.modelId);
  });

  it('reports, once, a tagger published by key that it has no store for, and keeps serving the current one', async () => {
    const serving = new MemoryServingStore();
    const first = await publishTagger({ tagger, artifacts: join(dir, 'plain'), serving, metadata });
    const logger = recordingLogger();
    const live = new LiveTagger(serving, { logger });
    await live.refresh();
    await serving.set(TAGGER_POINTER_KEY, {
      modelId: 'tagger-elsewhere',
      artifactPath: 'models/tagger-elsewhere/model.tagger',
      artifactKey: 'models/tagger-elsewhere/model.tagger',
      publishedAt: new Date().toISOString(),
      labels: 4,
      metrics: {},
    });
    expect((await live.refresh())?.pointer.modelId).toBe(first.modelId);
    expect((await live.refresh())?.pointer.modelId).toBe(first.modelId);
    const errors = logger.entries.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].fields).toMatchObject({
      modelId: 'tagger-elsewhere',
      from: 'models/tagger-elsewhere/model.tagger',
    });
    expect(errors[0].message).toContain(
      'stores.artifacts: the tagger is published under the artifact key models/tagger-elsewhere/model.tagger and this server has no artifact store',
    );
    expect(errors[0].message).toContain(`still serving ${first.modelId}`);
  });

  it('publishing to an artifact store URL without an opener names the missing opener', async () => {
    await expect(
      publishTagger({
        tagger,
        artifacts: 's3://bucket/prefix',
        serving: new MemoryServingStore(),
        metadata,
      }),
    ).rejects.toThrow(
      /openArtifacts: stores.artifacts "s3:\/\/bucket\/prefix" is an artifact store URL/,
    );
  });
});
