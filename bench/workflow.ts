/**
 * Scheduling overhead of the workflow engine: 1,000 empty module tasks (they return at once),
 * run as a DAG, inline and on BullMQ with two `kiban worker` processes, with runs, task states
 * and attempts recorded in the metadata store. Since the tasks do nothing, the wall time of a
 * run divided by its tasks is the engine's cost per task. Two shapes:
 *
 * - `chain`: t1 → t2 → … → t1000, one task at a time (latency per task: nothing overlaps);
 * - `layers`: 10 layers of 100, each task needing two tasks of the layer before (tasks overlap).
 *
 *   npx tsx bench/workflow.ts [--tasks 1000] [--metadata sqlite:PATH|postgres://…] [--redis redis://127.0.0.1:6379] [--skip-bullmq]
 *
 * Last line: JSON with ms per task for each executor and shape, and the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { openMetadataStore } from '../src/app/open-stores.js';
import { WorkflowEngine } from '../src/workflow/engine/workflow-engine.js';
import type { Executor } from '../src/workflow/executor.js';
import { BullmqExecutor } from '../src/workflow/executors/bullmq-executor.js';
import { InlineExecutor } from '../src/workflow/executors/inline-executor.js';
import { parseWorkflow } from '../src/workflow/parse-workflow.js';
import type { WorkflowDefinition } from '../src/workflow/workflow-definition.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    metadata: { type: 'string' },
    redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
    'skip-bullmq': { type: 'boolean', default: false },
  },
});
const TASKS = Number(values.tasks);
const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-wf-'));
const metadataUrl = values.metadata ?? `sqlite:${join(dir, 'meta.db')}`;
const noop = join(dir, 'noop.mjs');
await writeFile(noop, 'export function noop() { return {}; }\n');

function dag(name: string, shape: 'chain' | 'layers'): WorkflowDefinition {
  const tasks: Record<string, unknown> = {};
  const width = shape === 'chain' ? 1 : Math.max(1, Math.round(TASKS / 10));
  for (let i = 0; i < TASKS; i++) {
    const layer = Math.floor(i / width);
    const pos = i % width;
    const needs =
      layer === 0
        ? []
        : shape === 'chain'
          ? [`t${i - 1}`]
          : [`t${(layer - 1) * width + pos}`, `t${(layer - 1) * width + ((pos + 1) % width)}`];
    tasks[`t${i}`] = { kind: 'module', module: noop, export: 'noop', needs: [...new Set(needs)] };
  }
  const file = join(dir, `${name}.yaml`);
  return parseWorkflow(stringify({ name, tasks }), file);
}

async function measure(executor: Executor, label: string): Promise<Record<string, number>> {
  const metadata = await openMetadataStore(metadataUrl);
  const engine = new WorkflowEngine({
    store: metadata.workflows,
    executor,
    workRoot: join(dir, 'work'),
  });
  const out: Record<string, number> = {};
  for (const shape of ['chain', 'layers'] as const) {
    const wf = dag(`${label}-${shape}`, shape);
    const run = (await engine.createRun(wf, { trigger: 'manual' }))!;
    const t0 = performance.now();
    const done = await engine.runToEnd(run.id);
    const ms = performance.now() - t0;
    if (done.status !== 'succeeded')
      throw new Error(`${label} ${shape}: run ${done.status}: ${done.error}`);
    out[`${shape}MsPerTask`] = Number((ms / TASKS).toFixed(3));
    process.stderr.write(
      `${label} ${shape}: ${TASKS} tasks in ${(ms / 1000).toFixed(2)} s = ${(ms / TASKS).toFixed(2)} ms/task\n`,
    );
  }
  await engine.close();
  await metadata.close();
  return out;
}

function startWorker(queue: string): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      resolve('src/cli/main.ts'),
      'worker',
      '--redis',
      values.redis!,
      '--queue',
      queue,
      '--concurrency',
      '16',
      '--metadata',
      metadataUrl,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return child;
}

async function waitForLine(child: ChildProcess, text: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) ok();
    });
    child.once('exit', (code) => fail(new Error(`worker exited with ${code}`)));
  });
}

const results: Record<string, unknown> = { tasks: TASKS, metadata: metadataUrl.split(':')[0] };
try {
  const metadata = await openMetadataStore(metadataUrl);
  results.inline = await measure(new InlineExecutor({ logs: metadata.workflows }), 'inline');
  await metadata.close();
  if (!values['skip-bullmq']) {
    const queue = `kiban-bench-${process.pid}`;
    const workers = [startWorker(queue), startWorker(queue)];
    await Promise.all(workers.map((w) => waitForLine(w, 'is taking tasks')));
    const executor = new BullmqExecutor({ redisUrl: values.redis!, queue });
    try {
      results.bullmq = { workers: 2, ...(await measure(executor, 'bullmq')) };
    } finally {
      await executor.close();
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(
        workers.map((w) => new Promise((r) => (w.exitCode === null ? w.once('exit', r) : r(null)))),
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
results.machine = {
  cores: availableParallelism(),
  cpu: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
process.stdout.write(`${JSON.stringify(results)}\n`);
