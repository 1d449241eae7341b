import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KyselyMetadataStore } from '../../storage/kysely-metadata-store.js';
import { MemoryServingStore } from '../../storage/memory-serving-store.js';
import { taskLogLogger } from '../../workflow/task-log-logger.js';
import { parsePipelineConfig } from '../pipeline-config.js';
import { runPipelineStep, type StepContext } from './index.js';
import {
  CATEGORY_POPULAR_LIST,
  ITEM_CATEGORIES_LIST,
  RETIRED_LIST,
  USER_HISTORY_LIST,
} from '../../storage/serving-lists.js';

// Item popularity (distinct users): i1 6, i2 4, i3 3, i4 2, i5 1, i6 1.
const EVENTS = [
  'user,item,event,value,timestamp',
  ...['u1', 'u2', 'u3', 'u4', 'u5'].map((u, n) => `${u},i1,view,1,${100 + n}`),
  ...['u1', 'u2', 'u3', 'u4'].map((u, n) => `${u},i2,view,1,${200 + n}`),
  ...['u1', 'u2', 'u3'].map((u, n) => `${u},i3,view,1,${300 + n}`),
  'u1,i4,view,1,400',
  'u2,i4,view,1,401',
  'u1,i5,view,1,500',
  'u6,i6,view,1,600',
  'u6,i1,view,1,50',
].join('\n');

const ITEMS = [
  'item_id,genres,gone',
  'i1,drama|comedy,false',
  'i2,drama,true',
  'i3,comedy,0',
  'i4,drama,',
  'i5,,no',
  'i6,comedy| drama ,false',
  'i99,drama,false',
].join('\n');

describe('publish: the catalogue lists', () => {
  let dir: string;
  const store = new MemoryServingStore();
  const metadata = KyselyMetadataStore.sqlite(':memory:');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-catalogue-'));
    await metadata.migrate();
    await writeFile(join(dir, 'events.csv'), `${EVENTS}\n`);
    await writeFile(join(dir, 'items.csv'), `${ITEMS}\n`);
  });
  afterAll(async () => {
    await store.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('publishes category-popular, item-categories, retired and user-history lists from an item table', async () => {
    const config = parsePipelineConfig({
      data: {
        events: join(dir, 'events.csv'),
        items: {
          table: join(dir, 'items.csv'),
          id: 'item_id',
          category: 'genres',
          retired: 'gone',
        },
      },
      aggregate: { minUserItems: 1, minItemUsers: 1 },
      model: { kind: 'popularity' },
      candidates: { users: 5, related: 3, popular: 2 },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
    });
    const ctx: StepContext = {
      config,
      runId: 'catalogue-test',
      workDir: join(dir, 'work', 'run'),
      serving: async () => store,
      metadata,
      logger: taskLogLogger(() => undefined),
    };
    for (const step of ['aggregate', 'train', 'candidates', 'publish'] as const)
      await runPipelineStep(step, ctx);

    const ids = (list: { id: unknown }[] | null) => list?.map((i) => String(i.id)) ?? null;
    // Popularity order from the training data (not the 2-item popular list), i2 retired.
    expect(ids(await store.getList(CATEGORY_POPULAR_LIST, 'drama'))).toEqual(['i1', 'i4', 'i6']);
    expect(ids(await store.getList(CATEGORY_POPULAR_LIST, 'comedy'))).toEqual(['i1', 'i3', 'i6']);
    expect((await store.getList(CATEGORY_POPULAR_LIST, 'drama'))?.map((i) => i.score)).toEqual([
      6, 2, 1,
    ]);
    expect(ids(await store.getList(ITEM_CATEGORIES_LIST, 'i1'))).toEqual(['drama', 'comedy']);
    expect(ids(await store.getList(ITEM_CATEGORIES_LIST, 'i6'))).toEqual(['comedy', 'drama']);
    expect(await store.getList(ITEM_CATEGORIES_LIST, 'i5')).toBeNull();
    expect(ids(await store.getList(RETIRED_LIST, 'all'))).toEqual(['i2']);
    // Most recent first.
    expect(ids(await store.getList(USER_HISTORY_LIST, 'u1'))).toEqual([
      'i5',
      'i4',
      'i3',
      'i2',
      'i1',
    ]);
    expect(ids(await store.getList(USER_HISTORY_LIST, 'u6'))).toEqual(['i6', 'i1']);
  });

  it('names the file and column of a bad retired cell', async () => {
    await writeFile(join(dir, 'bad-items.csv'), 'item_id,gone\ni1,maybe\n');
    const config = parsePipelineConfig({
      data: {
        events: join(dir, 'events.csv'),
        items: { table: join(dir, 'bad-items.csv'), id: 'item_id', retired: 'gone' },
      },
      aggregate: { minUserItems: 1, minItemUsers: 1 },
      model: { kind: 'popularity' },
      stores: { artifacts: join(dir, 'models'), work: join(dir, 'work') },
    });
    const ctx: StepContext = {
      config,
      runId: 'catalogue-bad',
      workDir: join(dir, 'work', 'bad'),
      serving: async () => store,
      metadata,
      logger: taskLogLogger(() => undefined),
    };
    for (const step of ['aggregate', 'train', 'candidates'] as const)
      await runPipelineStep(step, ctx);
    await expect(runPipelineStep('publish', ctx)).rejects.toThrow(
      /bad-items\.csv.*gone|gone.*maybe/s,
    );
    expect((await store.currentVersion())?.meta.runId).toBe('catalogue-test');
  });
});
