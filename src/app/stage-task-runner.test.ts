import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetadataStore } from '../storage/metadata-store.js';
import { WorkflowEngine } from '../workflow/engine/workflow-engine.js';
import { InlineExecutor } from '../workflow/executors/inline-executor.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { openMetadataStore } from './open-stores.js';
import { builtinTaskHandlers } from './builtin-task-handlers.js';

const FIXTURE = resolve(import.meta.dirname, '../../test/fixtures/stages/stages.ts');

describe('workflow tasks of kind: stage', () => {
  let dir: string;
  let metadata: MetadataStore;
  let engine: WorkflowEngine;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiban-stage-task-'));
    metadata = await openMetadataStore(`sqlite:${join(dir, 'meta.db')}`);
    const url = `sqlite:${join(dir, 'meta.db')}`;
    engine = new WorkflowEngine({
      store: metadata.workflows,
      executor: new InlineExecutor({
        logs: metadata.workflows,
        handlers: builtinTaskHandlers({ metadataUrl: url }),
      }),
      workRoot: join(dir, 'work'),
    });
    await mkdir(join(dir, 'posts'));
    await writeFile(
      join(dir, 'posts', 'a.jsonl'),
      '{"id":1,"text":"red fox"}\n{"id":2,"text":"red dog"}\n',
    );
    await writeFile(join(dir, 'posts', 'b.jsonl'), '{"id":3,"text":"blue fox"}\n');
  });
  afterAll(async () => {
    await engine.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a defineStage export on the threads runner, writes its sink and records its figures', async () => {
    const yaml = `name: words
params: { out: "${join(dir, 'counts')}" }
tasks:
  count:
    kind: stage
    module: ${FIXTURE}
    export: wordCount
    params: { source: "jsonl:${join(dir, 'posts')}", sink: "jsonl:\${out}", runner: threads, numPreprocessors: 2, count: 2 }
  after: { run: 'cat "$KIBAN_PARAM_OUT"/*.jsonl | wc -l', needs: [count] }
`;
    const wf = parseWorkflow(yaml, join(dir, 'words.yaml'), builtinTaskHandlers());
    const run = (await engine.createRun(wf, { trigger: 'manual' }))!;
    const done = await engine.runToEnd(run.id);
    expect(done.status, done.error ?? '').toBe('succeeded');
    const [count] = await metadata.workflows.getTasks(run.id);
    expect(count.output).toMatchObject({
      stage: 'word-count',
      runner: 'threads',
      read: 3,
      partitions: 2,
    });
    const files = (await readdir(join(dir, 'counts'))).filter((f) => f.endsWith('.jsonl'));
    const rows = (await Promise.all(files.map((f) => readFile(join(dir, 'counts', f), 'utf8'))))
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { word: string; count: number });
    const merged = new Map<string, number>();
    for (const r of rows) merged.set(r.word, (merged.get(r.word) ?? 0) + r.count);
    expect(Object.fromEntries(merged)).toEqual({ red: 2, fox: 2, dog: 1, blue: 1 });
  });

  it('refuses a misconfigured stage task at validation, and at run time fails it once, without retrying, naming the parameter', async () => {
    const text = (params: string) =>
      `name: bad\ntasks:\n  s: { kind: stage, module: ${FIXTURE}, export: wordCount, params: ${params}, retry: { count: 2, backoff: 10ms } }\n`;
    expect(() =>
      parseWorkflow(text('{ sorce: "jsonl:x" }'), join(dir, 'bad.yaml'), builtinTaskHandlers()),
    ).toThrow(/tasks\.s\.params\.sorce: not a parameter of stage tasks/);
    // A definition recorded before validation checked params (or built by hand) still fails by name at run time.
    const wf = parseWorkflow(
      text('{ source: "jsonl:x" }'),
      join(dir, 'bad.yaml'),
      builtinTaskHandlers(),
    );
    wf.tasks[0].params = { sorce: 'jsonl:x' };
    const done = await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain('params.sorce: not a parameter of stage tasks');
    // An invalid parameter fails the same way every time: one attempt, the retries not spent.
    expect((await metadata.workflows.listAttempts(done.id, 's')).map((a) => a.status)).toEqual([
      'failed',
    ]);
  });
});
