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
  POPULAR_CREATORS_LIST,
  RELATED_CREATORS_LIST,
  USER_CREATORS_LIST,
} from '../../storage/serving-lists.js';

// Creators: A made i1 and i2, B i3 and i4, C i5 and i6. u1 also follows C directly (an event
// whose item is the creator's name, which the item table does not hold).
const EVENTS = `user,item,event,value,timestamp
u1,i1,view,1,100
u1,C,follow,1,101
u2,i1,view,1,102
u2,i3,view,1,103
u3,i1,view,1,104
u3,i3,view,1,105
u3,i4,view,1,106
u4,i5,view,1,107
u4,i6,view,1,108
u5,i5,view,1,109
u5,i3,view,1,110
u6,i2,view,1,111
u6,i6,view,1,112
`;
const ITEMS = `id,title,artist
i1,one,A
i2,two,A
i3,three,B
i4,four,B
i5,five,C
i6,six,C
i9,not played,D
`;

describe('publish: creator lists (issue 22)', () => {
  let dir: string;
  const metadata = KyselyMetadataStore.sqlite(':memory:');
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-publish-creators-'));
    await metadata.migrate();
    await writeFile(join(dir, 'events.csv'), EVENTS);
    await writeFile(join(dir, 'items.csv'), ITEMS);
  });
  afterAll(async () => {
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  const runAll = async (run: string, items: Record<string, unknown> | undefined) => {
    const serving = new MemoryServingStore();
    const config = parsePipelineConfig({
      data: {
        events: join(dir, 'events.csv'),
        ...(items === undefined ? {} : { items }),
      },
      aggregate: { eventWeights: { view: 1, follow: 2 }, minUserItems: 1, minItemUsers: 1 },
      model: { kind: 'itemknn' },
      evaluate: { holdout: 0 },
      candidates: { users: 10, related: 10, popular: 5 },
      stores: { artifacts: join(dir, run, 'models'), work: join(dir, run, 'work') },
    });
    const ctx: StepContext = {
      config,
      runId: run,
      workDir: join(dir, run, 'work'),
      serving: async () => serving,
      metadata,
      logger: taskLogLogger((line) => lines.push(line)),
    };
    for (const step of ['aggregate', 'train', 'candidates', 'publish'] as const)
      await runPipelineStep(step, ctx);
    return serving;
  };

  it('publishes user → creators without the creators a user touched, and related creators', async () => {
    const serving = await runAll('with-items', {
      table: join(dir, 'items.csv'),
      id: 'id',
      creator: 'artist',
    });
    try {
      // u1 touched A (through i1) and C (followed directly): only B is left to recommend.
      const u1 = await serving.getList(USER_CREATORS_LIST, 'u1');
      expect(u1?.map((c) => c.id)).toEqual(['B']);
      // u4 touched C only; B and A come from the items' neighbours.
      const u4 = await serving.getList(USER_CREATORS_LIST, 'u4');
      expect(new Set(u4?.map((c) => c.id))).toEqual(new Set(['A', 'B']));
      for (const c of u4 ?? []) expect(c.score).toBeGreaterThan(0);
      // Every list is best first, and never holds a creator its user touched.
      const touched: Record<string, string[]> = {
        u2: ['A', 'B'],
        u3: ['A', 'B'],
        u5: ['B', 'C'],
        u6: ['A', 'C'],
      };
      for (const [user, creators] of Object.entries(touched)) {
        const list = (await serving.getList(USER_CREATORS_LIST, user)) ?? [];
        for (const c of list) expect(creators).not.toContain(c.id);
        const scores = list.map((c) => c.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
      }
      // A's related creators: the others, never A itself; D made no item the model knows.
      const relatedA = await serving.getList(RELATED_CREATORS_LIST, 'A');
      expect(new Set(relatedA?.map((c) => c.id))).toEqual(new Set(['B', 'C']));
      expect(await serving.getList(RELATED_CREATORS_LIST, 'D')).toBeNull();
      // A: u1, u2, u3, u6; B: u2, u3, u5; C: u1 (follow), u4, u5, u6 — ties to the lower name.
      expect(await serving.getList(POPULAR_CREATORS_LIST, 'all')).toEqual([
        { id: 'A', score: 4 },
        { id: 'C', score: 4 },
        { id: 'B', score: 3 },
      ]);
      // The item lists are published beside them.
      expect(await serving.getList('user', 'u1')).not.toBeNull();
      expect(lines.some((l) => /3 creators of 6 catalogue items \(1 direct/.test(l))).toBe(true);
    } finally {
      await serving.close();
    }
  }, 60_000);

  it('publishes no creator lists without a creator column', async () => {
    const serving = await runAll('without-items', undefined);
    try {
      expect(await serving.getList('user', 'u1')).not.toBeNull();
      expect(await serving.getList(USER_CREATORS_LIST, 'u1')).toBeNull();
      expect(await serving.getList(RELATED_CREATORS_LIST, 'A')).toBeNull();
      expect(await serving.getList(POPULAR_CREATORS_LIST, 'all')).toBeNull();
    } finally {
      await serving.close();
    }
  }, 60_000);
});
