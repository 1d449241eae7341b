/**
 * Latency of POST /v1/tags/suggest: trains the tagger on the cooking split with the fastText
 * tutorial settings (lr 1, 25 epochs, word bigrams; or loads `--model`), publishes it to a
 * SQLite serving store, serves it from a `kiban serve` process, and loads it from another with
 * the 3,000 validation questions as request bodies (k 5): at a fixed `--rate` (default 500
 * requests/s, the goal's rate) with the open-loop generator of bench/http-load.ts (the C
 * one where `cc` builds it; latency to the microsecond), and at full speed with autocannon
 * (bench/serve-load.ts). For scale, the same fixed-rate load also goes to a bare fastify route
 * taking the same bodies and returning a constant answer, in its own process
 * (bench/bare-server.ts). Also times `Tagger.predict` alone, in process.
 *
 *   npx tsx bench/tags-serve.ts [--model FILE] [--rate 500] [--seconds 10] [--generator auto|c|node]
 *
 * Last line: JSON with both phases (requests/s, p50/p90/p99/max in ms, errors) and the machine.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fixedRateGenerator, measureAtRate, runFullSpeed } from './http-load.js';
import { readTagExamples } from '../src/models/tags/read-tag-examples.js';
import { readTaggerFile } from '../src/models/tags/tagger-file.js';
import { Tagger } from '../src/models/tags/tagger.js';
import { publishTagger } from '../src/pipeline/tags/publish-tagger.js';
import { SqliteServingStore } from '../src/storage/sqlite-serving-store.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    generator: { type: 'string', default: 'auto' },
  },
});
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const DATA = 'datasets/cooking-stackexchange/splits';

const valid = await readTagExamples(join(DATA, 'valid.txt'));
let tagger: Tagger;
if (values.model !== undefined) tagger = await readTaggerFile(values.model);
else {
  log('training the tagger (lr 1, 25 epochs, word bigrams, 2 threads)…');
  tagger = await Tagger.train(await readTagExamples(join(DATA, 'train.txt')), {
    lr: 1,
    epoch: 25,
    wordNgrams: 2,
    threads: 2,
  });
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
const predictMicros = {
  mean: Math.round((sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000 * 10) / 10,
  p99: Math.round(sorted[Math.floor(sorted.length * 0.99)] * 1000 * 10) / 10,
};
log(`predict in process: mean ${predictMicros.mean} µs, p99 ${predictMicros.p99} µs`);

const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-tags-'));
// Published to a SQLite serving store that a `kiban serve` process (its own heap and event loop,
// as in production) loads the tagger from; the bare route runs in a process of its own too.
const serving = new SqliteServingStore(join(dir, 'serving.db'));
await publishTagger({ tagger, artifacts: dir, serving, metadata: { insertModel: async () => {} } });
await serving.close();
const config = join(dir, 'serve.yaml');
await writeFile(
  config,
  `stores:\n  serving: "sqlite:${join(dir, 'serving.db')}"\n  metadata: "sqlite:${join(dir, 'meta.db')}"\n  artifacts: "${dir}"\n`,
);
const servers: ServerProcess[] = [];
try {
  const kiban = await startServerProcess(
    ['src/cli/main.ts', 'serve', '--config', config, '--port', '0'],
    /kiban is serving on (http:\/\/\S+)/,
  );
  servers.push(kiban);
  const bare = await startServerProcess(['bench/bare-server.ts'], /listening on (http:\/\/\S+)/);
  servers.push(bare);
  const bodies = join(dir, 'bodies.jsonl');
  await writeFile(bodies, valid.map((e) => JSON.stringify({ text: e.text, k: 5 })).join('\n'));
  // The server loads the published tagger within a poll (2 s); 503 until then.
  for (let tries = 0; ; tries++) {
    const response = await fetch(`${kiban.url}/v1/tags/suggest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: valid[0]!.text }),
    });
    if (response.ok) break;
    if (tries > 100)
      throw new Error(
        `kiban serve never answered the tags route: ${response.status} ${await response.text()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const generator = fixedRateGenerator(dir, values.generator as 'auto' | 'c' | 'node');
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const fixed = await measureAtRate(generator, kiban, '/v1/tags/suggest', bodies, rate, seconds);
  log(`at ${rate} requests/s: ${JSON.stringify(fixed)}`);
  const bareFixed = await measureAtRate(generator, bare, '/v1/tags/suggest', bodies, rate, seconds);
  log(`bare route at ${rate} requests/s: ${JSON.stringify(bareFixed)}`);
  const full = await runFullSpeed(kiban.url, '/v1/tags/suggest', bodies, seconds, 32);
  log(`full speed: ${JSON.stringify(full)}`);
  process.stdout.write(
    `${JSON.stringify({
      tags: tagger.labels.length,
      predictMicros,
      server: 'kiban serve (SQLite serving store)',
      atRate: fixed,
      bareRouteAtRate: bareFixed,
      fullSpeed: full,
      fixedRateGenerator: generator.name,
      goal: {
        p99MsAtRate: 3,
        met: fixed.latencyMs.p99 < 3 && fixed.non2xx === 0 && fixed.errors === 0,
      },
      loadAverage1m: Math.round(loadavg()[0] * 10) / 10,
      machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
    })}\n`,
  );
} finally {
  for (const server of servers) await server.stop();
  await rm(dir, { recursive: true, force: true });
}
