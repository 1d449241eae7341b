/**
 * Memory of graph-model training as a stage (issue 19): a seeded synthetic user–item graph is
 * streamed through `graphTraining` (src/models/graph/graph-training-stage.ts) on the inline
 * runner, a few training steps are taken, and the process's peak RSS is compared with the size
 * of the graph. Each configuration runs in its own child process, so each peak is its own.
 *
 *   npx tsx bench/gnn-memory.ts                 # 10M edges (and 1M, for the slope)
 *   npx tsx bench/gnn-memory.ts --edges 2000000 # one size
 *   npx tsx bench/gnn-memory.ts --edges 10000000 --fanout2 10 # only rows with second hops
 *
 * The graph: `edges / 50` users with 50 consecutive edges each (a `range` source of edge ids,
 * so no record exists before it is read), items drawn with a skewed (squared-uniform)
 * popularity from 50,000. The stage streams users (`userRuns`: one user held at a time), one
 * epoch, 20 steps of 16 users at width 32, full softmax; one layer (`fanout2` 0), and by default
 * also both layers at 10M edges (`fanout2` 10: the per-item second-hop reservoirs, items × 10,
 * filled as the log streams by). Printed last: one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphTraining } from '../src/models/graph/graph-training-stage.js';
import { InlineStageRunner } from '../src/stages/runners/inline-runner.js';
import { defineStage, type StageContext } from '../src/stages/stage.js';

const ITEMS = 50_000;
const DEGREE = 50;
const DIM = 32;
const STEPS = 20;

/** The edge `e`'s item: a hash of e, squared so that low item ids are popular. */
function itemOf(e: number): number {
  let h = Math.imul(e ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const u = ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  return Math.floor(ITEMS * u * u);
}

/**
 * `graphTraining` over a synthetic graph: preprocess turns each `{ id }` of a range source (an
 * edge id) into an interaction-log row, then hands the rows to the stage's own preprocess.
 */
export const syntheticGraphTraining = defineStage({
  name: 'synthetic-graph-training',
  preprocess(edges: AsyncIterable<{ id: number }>, ctx: StageContext) {
    async function* rows(): AsyncIterable<Record<string, number>> {
      for await (const { id } of edges)
        yield { userId: Math.floor(id / DEGREE), movieId: itemOf(id) };
    }
    return graphTraining.preprocess!(rows(), ctx);
  },
  partitionBy: graphTraining.partitionBy!,
  main: graphTraining.main,
  postprocess: graphTraining.postprocess!,
});

interface Figures {
  edges: number;
  users: number;
  items: number;
  embedUsers: boolean;
  fanout2: number;
  seconds: number;
  peakRssMB: number;
  baselineRssMB: number;
  /** The graph as int32 (user, item) pairs: the least an in-memory trainer would hold. */
  graphPairsMB: number;
  /** Parameters, gradients, Adam moments, frozen item rows and per-item scores, float32. */
  modelMB: number;
  written: number;
}

const MB = 1024 * 1024;

async function child(edges: number, embedUsers: boolean, fanout2: number): Promise<Figures> {
  const baseline = process.resourceUsage().maxRSS * 1024;
  const dir = await mkdtemp(join(tmpdir(), 'kiban-gnn-memory-'));
  const started = performance.now();
  try {
    const result = await new InlineStageRunner().run(
      { module: fileURLToPath(import.meta.url), export: 'syntheticGraphTraining' },
      {
        source: { kind: 'range', to: edges },
        sink: { kind: 'jsonl', path: join(dir, 'embeddings') },
        params: {
          itemCount: ITEMS,
          columns: { user: 'userId', item: 'movieId' },
          userRuns: true,
          epochs: 1,
          dim: DIM,
          maxSteps: STEPS,
          embedUsers,
          fanout2,
        },
        log: (line) => process.stderr.write(`${line}\n`),
      },
    );
    return {
      edges,
      users: Math.ceil(edges / DEGREE),
      items: ITEMS,
      embedUsers,
      fanout2,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      peakRssMB: Math.round((process.resourceUsage().maxRSS * 1024) / MB),
      baselineRssMB: Math.round(baseline / MB),
      graphPairsMB: Math.round((edges * 8) / MB),
      modelMB: Math.round(((5 * ITEMS * DIM + 3 * ITEMS) * 4) / MB),
      written: result.records.written,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function argument(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

/** Runs the bench (not at the top level: the runner imports this module for its stage). */
async function bench(): Promise<void> {
  if (argument('child') !== undefined) {
    const figures = await child(
      Number(argument('child')),
      argument('embed-users') === 'true',
      Number(argument('fanout2') ?? 0),
    );
    console.log(JSON.stringify(figures));
  } else {
    const sizes =
      argument('edges') === undefined ? [1_000_000, 10_000_000] : [Number(argument('edges'))];
    const configs: [number, boolean, number][] = [];
    if (argument('fanout2') === undefined) {
      for (const edges of sizes)
        for (const embedUsers of [false, true]) configs.push([edges, embedUsers, 0]);
      for (const embedUsers of [false, true]) configs.push([sizes.at(-1)!, embedUsers, 10]);
    } else {
      for (const edges of sizes)
        for (const embedUsers of [false, true])
          configs.push([edges, embedUsers, Number(argument('fanout2'))]);
    }
    const runs: Figures[] = [];
    for (const [edges, embedUsers, fanout2] of configs) {
      const out = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          fileURLToPath(import.meta.url),
          '--child',
          String(edges),
          '--embed-users',
          String(embedUsers),
          '--fanout2',
          String(fanout2),
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
      );
      if (out.status !== 0) throw new Error(`child for ${edges} edges failed (${out.status})`);
      const figures = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Figures;
      console.log(
        `${edges.toLocaleString('en')} edges, embedUsers ${embedUsers}, fanout2 ${fanout2}: peak RSS ${figures.peakRssMB} MB ` +
          `(baseline ${figures.baselineRssMB} MB; graph as int32 pairs ${figures.graphPairsMB} MB, model ${figures.modelMB} MB), ${figures.seconds} s`,
      );
      runs.push(figures);
    }
    console.log(JSON.stringify({ bench: 'gnn-memory', runs }));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  bench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
