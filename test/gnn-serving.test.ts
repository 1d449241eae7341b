/**
 * Serving a graph model (issue 19 item 3), end to end over real HTTP: the pipeline trains
 * graphsage on the bundled data and publishes its item vectors (the `items` index), every user's
 * embedding (the serving store's `user` vectors) and the model's key; the serve role's wiring
 * (`freshUserServing`) loads the model, and a new user's two POSTed interactions change their
 * recommendations on the next request.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshUserServing } from '../src/app/fresh-user-serving.js';
import { openArtifactStore } from '../src/app/open-artifact-store.js';
import { createLogger } from '../src/core/log.js';
import { builtinModels } from '../src/models/builtin-models.js';
import type { UserEmbeddingModel } from '../src/models/recommender.js';
import { parsePipelineConfig } from '../src/pipeline/pipeline-config.js';
import { runPipeline } from '../src/pipeline/run-pipeline.js';
import { readEmbeddingMeta } from '../src/pipeline/steps/embedding-version.js';
import { createServingApp } from '../src/serving/create-app.js';
import type { ArtifactStore } from '../src/storage/artifacts/artifact-store.js';
import { KyselyMetadataStore } from '../src/storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

interface Answer {
  user: string;
  items: { id: string; score: number }[];
  fallback: boolean;
}

describe('serving a graph model: users re-embedded from fresh interactions', () => {
  let dir: string;
  let artifacts: ArtifactStore;
  let app: FastifyInstance;
  let base: string;
  let model: UserEmbeddingModel;
  const serving = new MemoryServingStore();
  const metadata = KyselyMetadataStore.sqlite(':memory:');

  const recommendations = async (user: string, k = 10): Promise<Answer> => {
    const res = await fetch(`${base}/v1/users/${encodeURIComponent(user)}/recommendations?k=${k}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Answer;
  };
  const post = (body: unknown) =>
    fetch(`${base}/v1/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  /** The k items nearest by cosine to the user embedded from `items` (dense), `items` left out. */
  const expected = (items: number[], k: number): string[] => {
    const u = model.embedUsers([items]).data;
    const { rows, cols: d, data: q } = model.itemFactors();
    const scored: [number, number][] = [];
    const nu = Math.hypot(...u);
    for (let j = 0; j < rows; j++) {
      if (items.includes(j)) continue;
      let dot = 0;
      let nq = 0;
      for (let c = 0; c < d; c++) {
        dot += u[c] * q[j * d + c];
        nq += q[j * d + c] ** 2;
      }
      scored.push([j, dot / (nu * Math.sqrt(nq) || 1)]);
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    return scored.slice(0, k).map(([j]) => String(model.data.items.idAt(j)));
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-gnn-serving-'));
    await metadata.migrate();
    // Posted before the batch, which reads it but drops the user (one item, below minUserItems).
    await metadata.interactions.append([
      { user: 'dropped-user', item: '1', id: 'dropped-1', at: new Date('2026-12-01T00:00:00Z') },
    ]);
    const config = parsePipelineConfig({
      // The bundled MovieLens log; one epoch is enough to have a model to serve.
      model: { kind: 'graphsage', params: { epochs: 1, dim: 16 } },
      evaluate: { holdout: 0 },
      candidates: { users: 10, related: 3, popular: 10 },
      // A plain directory, as the default `.kiban/models`; the serve role opens it as file:DIR.
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
    });
    const result = await runPipeline(config, {
      serving,
      metadata,
      logger: createLogger({ level: 'warn' }),
      openArtifacts: (url) => openArtifactStore(url),
    });
    model = (await builtinModels().load(join(dir, 'models', result.modelId))) as UserEmbeddingModel;
    artifacts = await openArtifactStore(`file:${join(dir, 'models')}`);
    const fresh = freshUserServing(
      { serving, metadata, artifacts },
      createLogger({ level: 'warn' }),
    );
    app = createServingApp({ serving, metadata, webRoot: false, ...fresh });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // Started by onReady; awaited here so that the first request finds both loaded.
    expect(await fresh.embedding!.model.refresh()).not.toBeNull();
    expect(await fresh.embedding!.items.refresh()).not.toBeNull();
  }, 240_000);

  afterAll(async () => {
    await app?.close();
    await artifacts?.close();
    await serving.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes every user embedding and the model key with the version', async () => {
    const info = await serving.currentVersion();
    const meta = readEmbeddingMeta(info!.meta);
    expect(meta).toMatchObject({
      space: 'user',
      dim: 16,
      kind: 'graphsage',
      interactionsThrough: 1,
    });
    // A plain directory of models: the key is the model's directory name under it.
    expect(meta!.modelKey).toBe(String(info!.meta.modelId));
    const users = model.userFactors();
    for (const u of [0, users.rows - 1]) {
      const stored = await serving.getVector('user', String(model.data.users.idAt(u)));
      expect(stored).toEqual(users.data.slice(u * 16, (u + 1) * 16));
    }
    expect(await serving.getVector('user', 'never-seen')).toBeNull();
  });

  it("changes a new user's recommendations after their first two interactions", async () => {
    const before = await recommendations('new-user-1');
    expect(before.fallback).toBe(true);

    const clicked = [0, 1].map((i) => String(model.data.items.idAt(i)));
    for (const item of clicked) {
      const res = await post({ events: [{ user: 'new-user-1', item }] });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ accepted: 1, duplicates: 0 });
    }

    const after = await recommendations('new-user-1');
    expect(after.fallback).toBe(false);
    const ids = after.items.map((i) => i.id);
    expect(ids).not.toEqual(before.items.map((i) => i.id));
    expect(ids).toHaveLength(10);
    for (const item of clicked) expect(ids).not.toContain(item);
    // Exactly the cosine neighbours of the user embedded from those two items.
    expect(ids).toEqual(expected([0, 1], 10));
  });

  it('re-embeds a known user from their batch items plus a fresh one, leaving all of them out', async () => {
    const u = 3;
    const user = String(model.data.users.idAt(u));
    const list = await recommendations(user);
    expect(list.fallback).toBe(false);
    const { indptr, indices } = model.data.userItems;
    const batch = Array.from(indices.subarray(indptr[u], indptr[u + 1]));
    const fresh = list.items[0].id;
    const res = await post({
      events: [{ user, item: fresh, ts: '2026-12-06T10:00:00Z', id: 'k-1' }],
    });
    expect(await res.json()).toEqual({ accepted: 1, duplicates: 0 });
    // The same id again is stored once.
    const again = await post({ events: [{ user, item: fresh, id: 'k-1' }] });
    expect(await again.json()).toEqual({ accepted: 0, duplicates: 1 });

    const after = await recommendations(user);
    const ids = after.items.map((i) => i.id);
    expect(ids).not.toContain(fresh);
    const seen = new Set(batch.map((i) => String(model.data.items.idAt(i))));
    for (const id of ids) expect(seen.has(id)).toBe(false);
    expect(ids).toEqual(expected([...batch, model.data.items.indexOf(fresh)], 10));
  });

  it('embeds a user the batch read but dropped from all their interactions, not only later ones', async () => {
    expect(model.data.users.indexOf('dropped-user')).toBe(-1);
    const item = model.data.items.indexOf('1');
    expect(item).toBeGreaterThanOrEqual(0);
    const answer = await recommendations('dropped-user');
    expect(answer.fallback).toBe(false);
    expect(answer.items.map((i) => i.id)).toEqual(expected([item], 10));
  });

  it('refuses bad interaction events naming the field, storing none of them', async () => {
    const bad = async (body: unknown, field: string) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { code: string; message: string };
      expect(answer.code).toBe('INVALID_ARGUMENT');
      expect(answer.message).toContain(field);
    };
    await bad({ events: [{ user: 'x', item: 'y' }, { item: 'y' }] }, 'user');
    await bad({ events: [{ user: 'x', item: 'y', ts: 'yesterday' }] }, 'body.events[0].ts');
    await bad({ events: [{ user: 'x', item: 'y', weight: '2' }] }, 'weight');
    await bad({ events: [] }, 'events');
    expect(await metadata.interactions.forUser('x')).toEqual([]);
  });

  // Last: it switches the published version. The model polls the current version, so between a
  // publish (or rollback) and its next poll it still holds the old version's model: the
  // precomputed lists of the version the request reads answer then, never the other model.
  it("answers from the current version's lists while the loaded model is another version's", async () => {
    const embedded = await serving.currentVersion();
    expect((await recommendations('new-user-1')).fallback).toBe(false);
    const writer = await serving.beginVersion('plain-after-gnn', { modelId: 'plain' });
    await writer.putLists('popular', [['all', [{ id: 'only-in-plain', score: 1 }]]]);
    await writer.commit();
    const plain = await recommendations('new-user-1');
    expect(plain.fallback).toBe(true);
    expect(plain.items.map((i) => i.id)).toEqual(['only-in-plain']);
    // Rolled back to the graph model's version, whose model is still the one loaded.
    await serving.rollback(embedded!.version);
    const back = await recommendations('new-user-1');
    expect(back.fallback).toBe(false);
    expect(back.items.map((i) => i.id)).toEqual(expected([0, 1], 10));
  });
});
