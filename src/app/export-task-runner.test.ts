import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataStore } from '../storage/metadata-store.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { builtinTaskHandlers } from './builtin-task-handlers.js';
import { openMetadataStore } from './open-stores.js';

describe('workflow tasks of kind: export', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  const ratings = resolve('datasets/ml-latest-small/ratings.csv');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-export-task-'));
    const url = `sqlite:${join(dir, 'meta.db')}`;
    metadata = await openMetadataStore(url);
    engine = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({
        logs: metadata.workflows,
        handlers: builtinTaskHandlers({
          metadataUrl: url,
          artifactsUrl: `file:${join(dir, 'artifacts')}`,
        }),
      }),
      workRoot: join(dir, 'work'),
    });
    await writeFile(
      join(dir, 'counts.yaml'),
      `name: rating-counts
dataset: movielens
recipient: analysts
source: { files: '${ratings}' }
columns: { rating: keep }
release:
  mode: aggregates
  groupBy: [rating]
  privacyUnit: [userId]
  maxGroupsPerUnit: 10
  maxRowsPerGroup: 10
  epsilon: 0.5
  keys: { public: { query: "SELECT CAST(i / 2 AS VARCHAR) AS rating FROM range(1, 11) t(i)" } }
budget: { epsilon: 2 }
output: { format: csv }
`,
    );
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('releases through the engine’s artifact store and ledger, under a release id of the run', async () => {
    const wf = parseWorkflow(
      'name: share\ntasks:\n  counts:\n    kind: export\n    params: { policy: counts.yaml }\n',
      join(dir, 'share.yaml'),
      builtinTaskHandlers(),
    );
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    const [task] = await metadata.workflows.getTasks(done.id);
    expect(task.status).toBe('succeeded');
    const output = task.output as Record<string, unknown>;
    expect(output.release).toBe(`share-${done.id}-counts`.replace(/[^A-Za-z0-9._=-]/g, '-'));
    const csv = await readFile(join(dir, 'artifacts', String(output.dataKey)), 'utf8');
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('rating,count');
    // Ten public keys 0.5 … 5.0, as DuckDB prints halves.
    expect(lines).toHaveLength(11);
    const ledger = await metadata.privacyLedger.totals('movielens', 'analysts');
    expect(ledger).toMatchObject({ epsilon: 0.5, releases: 1 });
  });

  it('refuses a task without a policy when the workflow is read', () => {
    expect(() =>
      parseWorkflow(
        'name: share\ntasks:\n  counts:\n    kind: export\n    params: {}\n',
        join(dir, 'bad.yaml'),
        builtinTaskHandlers(),
      ),
    ).toThrow(/an export task needs policy/);
  });
});
