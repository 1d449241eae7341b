/**
 * Latency of POST /v1/tags/suggest: trains the tagger on the cooking split with the fastText
 * tutorial settings (lr 1, 25 epochs, word bigrams; or loads `--model`), publishes it to an
 * in-memory serving store, serves it from this process, and loads it from a second process with
 * the 3,000 validation questions as request bodies (k 5): at a fixed `--rate` (default 500
 * requests/s, the goal's rate) with the open-loop generator bench/rate-load.ts (latency to the
 * microsecond), and at full speed with autocannon (bench/serve-load.ts). For scale, the same
 * fixed-rate load also goes to a bare fastify route returning a constant answer, in this process.
 * Also times `Tagger.predict` alone, in process.
 *
 *   npx tsx bench/tags-serve.ts [--model FILE] [--rate 500] [--seconds 10]
 *
 * Last line: JSON with both phases (requests/s, p50/p90/p99/max in ms, errors) and the machine.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import Fastify from 'fastify';
import { readTagExamples } from '../src/models/tags/read-tag-examples.js';
import { readTaggerFile } from '../src/models/tags/tagger-file.js';
import { Tagger } from '../src/models/tags/tagger.js';
import { publishTagger } from '../src/pipeline/tags/publish-tagger.js';
import { createServingApp } from '../src/serving/create-app.js';
import { MemoryServingStore } from '../src/storage/memory-serving-store.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
  },
});
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const DATA = 'datasets/cooking-stackexchange/splits';

const valid = await readTagExamples(join(DATA, 'valid.txt'));
let tagger: Tagger;
if (values.model !== undefined) tagger = await readTaggerFile(values.model);
else {
  log('training the tagger (lr 1, 25 epochs, word bigrams, 2 threads)…');
  tagger = await Tagger.train(await readTagExamples(join(DATA, 'train.txt')), { lr: 1, epoch: 25, wordNgrams: 2, threads: 2 });
}

// predict alone, in process: every validation question, k 5.
const times = new Float64Array(valid.length);
for (let round = 0; round < 2; round++) {
  valid.forEach((e, i) => {
    const t0 = performance.now();
    tagger.predict(e.text, { k: 5 });
    times[i] = performance.now() - t0;
  });
}
const sorted = Float64Array.from(times).sort();
const predictMicros = { mean: Math.round((sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000 * 10) / 10, p99: Math.round(sorted[Math.floor(sorted.length * 0.99)] * 1000 * 10) / 10 };
log(`predict in process: mean ${predictMicros.mean} µs, p99 ${predictMicros.p99} µs`);

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-tags-'));
const serving = new MemoryServingStore();
const app = createServingApp({ serving, webRoot: false });
try {
  await publishTagger({ tagger, artifacts: dir, serving, metadata: { insertModel: async () => {} } });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const bodies = join(dir, 'bodies.jsonl');
  await writeFile(bodies, valid.map((e) => JSON.stringify({ text: e.text, k: 5 })).join('\n'));
  const run = async (script: string, base: string, extra: string[]): Promise<Record<string, unknown>> => {
    const args = ['--import', 'tsx', script, '--url', base, '--path', '/v1/tags/suggest', '--bodies', bodies, '--seconds', values.seconds!, ...extra];
    const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 24 });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };
  const fixed = await run('bench/rate-load.ts', url, ['--rate', values.rate!]);
  log(`at ${values.rate} requests/s: ${JSON.stringify(fixed)}`);
  const bare = Fastify();
  bare.post('/v1/tags/suggest', async () => [{ tag: 'bare', score: 1 }]);
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const bareFixed = await run('bench/rate-load.ts', `http://127.0.0.1:${(bare.server.address() as { port: number }).port}`, ['--rate', values.rate!]);
  await bare.close();
  log(`bare route at ${values.rate} requests/s: ${JSON.stringify(bareFixed)}`);
  const full = await run('bench/serve-load.ts', url, ['--connections', '32']);
  log(`full speed: ${JSON.stringify(full)}`);
  process.stdout.write(
    `${JSON.stringify({
      tags: tagger.labels.length,
      predictMicros,
      atRate: fixed,
      bareRouteAtRate: bareFixed,
      fullSpeed: full,
      goal: { p99MsAtRate: 3, met: (fixed.latencyMs as { p99: number }).p99 < 3 && fixed.non2xx === 0 && fixed.errors === 0 },
      loadAverage1m: Math.round(loadavg()[0] * 10) / 10,
      machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
    })}\n`,
  );
} finally {
  await app.close();
  await rm(dir, { recursive: true, force: true });
}
