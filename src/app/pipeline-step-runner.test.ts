import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineStepKind } from '../pipeline/steps/index.js';
import type { TaskContext, TaskJob } from '../workflow/executor.js';
import { openArtifactStore } from './open-artifact-store.js';
import { openMetadataStore, openServingStore } from './open-stores.js';
import { runPipelineTask } from './pipeline-step-runner.js';

/**
 * The by-key path of issue 16.3 on a `file:` artifact store: every pipeline task runs with a work
 * directory of its own (as on another host), so the model and the run's work files can only reach
 * the next task through the store.
 */
describe('pipeline tasks with stores.artifacts a file: URL, each in its own work directory', () => {
  let dir: string;
  let storeDir: string;
  let artifactsUrl: string;
  let metadataUrl: string;
  let servingUrl: string;
  const runId = 'by-key-run';
  const lines: string[] = [];

  /** Runs one task as a worker on a fresh host would: a work directory nobody else has seen. */
  async function task(
    kind: PipelineStepKind,
    params: Record<string, unknown> = {},
  ): Promise<{ output: Record<string, unknown>; workDir: string }> {
    const workDir = await mkdtemp(join(dir, `host-${kind}-`));
    const job: TaskJob = {
      runId,
      workflow: 'recommend',
      task: kind,
      attempt: 1,
      kind,
      params: { ...params, stores: { artifacts: artifactsUrl, serving: servingUrl } },
      logicalDate: '2026-12-06T00:00:00.000Z',
      timeoutMs: null,
      baseDir: dir,
      workDir,
    };
    const ctx: TaskContext = {
      ...job,
      log: (line) => lines.push(line),
      signal: new AbortController().signal,
    };
    const output = await runPipelineTask(kind, job, ctx, metadataUrl, artifactsUrl);
    return { output, workDir };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-by-key-'));
    storeDir = join(dir, 'store');
    artifactsUrl = `file:${storeDir}`;
    metadataUrl = `sqlite:${join(dir, 'meta.db')}`;
    servingUrl = `sqlite:${join(dir, 'serving.db')}`;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('train saves under models/<id>/, run files travel under runs/<runId>/, publish serves the lists', async () => {
    const store = await openArtifactStore(artifactsUrl);
    const metadata = await openMetadataStore(metadataUrl);
    try {
      await task('aggregate');
      const trained = (await task('train', { kind: 'popularity' })).output;
      const modelId = String(trained.modelId);
      expect(trained).toMatchObject({
        artifactPath: `models/${modelId}`,
        artifactKey: `models/${modelId}`,
        artifacts: artifactsUrl,
      });

      // The model lives in the store by key, and the metadata records that key, not a path.
      expect((await store.list(`models/${modelId}/`)).length).toBeGreaterThan(0);
      expect((await metadata.getModel(modelId))?.artifactPath).toBe(`models/${modelId}`);

      const candidates = await task('candidates', { users: 5, related: 3, popular: 7 });
      expect(candidates.output).toMatchObject({ modelId, popular: 7 });
      const published = await task('publish');
      expect(published.output.version).toBeDefined();

      // The run's work files are in the store under runs/<runId>/; no task left them in its work directory.
      const runFiles = (await store.list(`runs/${runId}/`)).map((o) =>
        o.key.slice(`runs/${runId}/`.length),
      );
      expect(runFiles).toEqual(
        expect.arrayContaining([
          'interactions.parquet',
          'model.json',
          'candidates/manifest.json',
          'candidates/user.ids.bin',
        ]),
      );
      const ref = JSON.parse(
        Buffer.concat(await (await store.get(`runs/${runId}/model.json`)).toArray()).toString(
          'utf8',
        ),
      );
      expect(ref).toEqual({
        modelId,
        artifactPath: `models/${modelId}`,
        kind: 'popularity',
        artifacts: artifactsUrl,
        artifactKey: `models/${modelId}`,
        // No interaction posted through the API reached this batch.
        interactionsThrough: 0,
      });
      for (const kind of ['aggregate', 'train', 'candidates', 'publish']) {
        for (const workDir of (await readdir(dir)).filter((d) => d.startsWith(`host-${kind}-`)))
          expect(await readdir(join(dir, workDir))).toEqual([]);
      }
      expect(await stat(join(dir, '.kiban')).catch(() => null)).toBeNull();

      // Publish served the lists of that model.
      const serving = await openServingStore(servingUrl);
      try {
        const current = await serving.currentVersion();
        expect(current?.version).toBe(published.output.version);
        expect(current?.meta).toMatchObject({ modelId, runId });
        expect(await serving.getList('user', '1')).toHaveLength(5);
        expect(await serving.getList('related', '1')).toHaveLength(3);
        expect(await serving.getList('popular', 'all')).toHaveLength(7);
      } finally {
        await serving.close();
      }
    } finally {
      await metadata.close();
      await store.close();
    }
  });
});
