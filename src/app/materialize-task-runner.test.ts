import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DAY,
  type ExpectedState,
  onlineState,
  T0,
  writeMaterializeRepo,
} from '../../test/fixtures/feature-materialize-repo.js';
import { SqliteOnlineFeatureStore } from '../storage/sqlite-online-feature-store.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { builtinTaskHandlers } from './builtin-task-handlers.js';
import { openMetadataStore } from './open-stores.js';

describe('workflow tasks of kind: materialize', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  let expectedFor: (start: number, end: number) => ExpectedState;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-materialize-task-'));
    expectedFor = await writeMaterializeRepo(join(dir, 'repo'), { rows: 150 });
    const url = `sqlite:${join(dir, 'meta.db')}`;
    metadata = await openMetadataStore(url);
    engine = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({
        logs: metadata.workflows,
        handlers: builtinTaskHandlers({ metadataUrl: url }),
      }),
      workRoot: join(dir, 'work'),
    });
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  const run = async (params: string, logicalDate: string) => {
    const text = `name: features\ntasks:\n  online:\n    kind: materialize\n    params: { repo: repo, online: "sqlite:${join(dir, 'online.db')}"${params} }\n`;
    const wf = parseWorkflow(text, join(dir, 'features.yaml'), builtinTaskHandlers());
    const done = await engine.runToEnd(
      (await engine.createRun(wf, { trigger: 'manual', logicalDate }))!.id,
    );
    const [task] = await metadata.workflows.getTasks(done.id);
    return { done, output: task!.output as Record<string, unknown> };
  };
  const state = async (end: number) => {
    const store = new SqliteOnlineFeatureStore(join(dir, 'online.db'));
    try {
      const expected = expectedFor(T0, end);
      return { got: await onlineState(store, expected), expected };
    } finally {
      await store.close();
    }
  };

  it('materialises the window before each logical date, continuing where the last run ended', async () => {
    // Three daily runs, each for the day before its logical date; the first covers 3 days.
    const first = await run(', window: 3d, views: [user_stats, pair_stats]', '2024-01-04');
    expect(first.done.status, first.done.error ?? '').toBe('succeeded');
    expect(first.output).toMatchObject({
      start: '2024-01-01T00:00:00.000Z',
      end: '2024-01-04T00:00:00.000Z',
    });
    expect((first.output.views as { windows: number }[]).map((v) => v.windows)).toEqual([3, 3]);
    let { got, expected } = await state(T0 + 3 * DAY);
    expect(got).toEqual(expected);

    for (const date of ['2024-01-05', '2024-01-06']) {
      const next = await run(', window: 1d, chunkRows: "4"', date);
      expect(next.done.status, next.done.error ?? '').toBe('succeeded');
      expect((next.output.views as { windows: number }[]).map((v) => v.windows)).toEqual([1, 1]);
    }
    ({ got, expected } = await state(T0 + 5 * DAY));
    expect(got).toEqual(expected);

    // An explicit range overlapping what is done: resumed at the marks, nothing re-read.
    const explicit = await run(', start: "2024-01-02", end: "2024-01-06"', '2024-01-06');
    expect(explicit.done.status, explicit.done.error ?? '').toBe('succeeded');
    expect(explicit.output).toMatchObject({ rows: 0, rowsStored: 0 });
  });

  it('refuses params that name no window, or both kinds of window, when the workflow is read', () => {
    const read = (params: string) => () =>
      parseWorkflow(
        `name: features\ntasks:\n  online:\n    kind: materialize\n    params: { repo: repo${params} }\n`,
        join(dir, 'bad.yaml'),
        builtinTaskHandlers(),
      );
    expect(read('')).toThrow(/window \(e\.g\. 1d\) or start and end/);
    expect(read(', window: 1d, start: "2024-01-01"')).toThrow(/either window/);
    expect(read(', start: "2024-01-01"')).toThrow(/end.*needed with the other/);
    expect(read(', window: soon')).toThrow(/not a duration/);
    expect(read(', start: "yesterday", end: "2024-01-02"')).toThrow(/neither an ISO-8601/);
    expect(read(', window: 1d, colour: red')).toThrow(/colour/);
  });
});
