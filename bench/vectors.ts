/**
 * Vector search side by side with faiss (issue 18, item 5). A seeded 64-d data set, L2-normalised
 * draws from a Gaussian mixture of 1,000 anisotropic clusters (per-cluster random per-axis
 * scales), at each `--sizes` n plus `--queries` held-out queries from the same mixture, written
 * as .fvecs for the peer (`bench/peers/faiss_vectors.py`, Debian's python3-faiss). Per size,
 * interleaved kiban → faiss:
 *
 * 1. exact: kiban's `ExactVectorIndex` (float32, and int8) against faiss `IndexFlatIP`;
 * 2. HNSW (M 16, efConstruction 200, inner product; kiban's defaults are the same, default ef
 *    64): kiban's `HnswVectorIndex` (usearch) against faiss `IndexHNSWFlat`, at each `--ef`.
 *
 * Figures: recall@k against the exact answers, batch queries/s on 1 and 2 threads (best of
 * `--repeats`), one query at a time p50/p99 (ms, in process), build seconds (2 threads), index
 * bytes and resident-set growth over the build. Then, at the largest size, the HTTP similar
 * route: `kiban serve` on the saved HNSW index and a bare fastify route in processes of their own
 * (`--serve-bare` runs that one), each at `--rate` req/s from the open-loop generator of
 * bench/http-load.ts: `GET /v1/items/{id}/similar` (one item: the generator sends one path) and
 * `POST /v1/vectors/items/search` with each held-out query in turn.
 *
 *   npx tsx bench/vectors.ts [--sizes 100000,1000000] [--queries 1000] [--ef 16,32,64,128]
 *     [--repeats 3] [--single-queries N] [--rate 1000] [--seconds 10] [--no-http] [--no-int8]
 *     [--no-peer] [--peer-hnsw-max N] [--seed 7] [--generator auto|c|node] [--python /usr/bin/python3]
 *
 * `--repeats`: batch figures are the best of that many runs, single-query figures the pass (of
 * that many) with the lowest p99, for kiban and faiss alike; `--single-queries` times only the
 * first N queries one at a time (faiss's flat scan takes 20–60 ms a query at 1M here);
 * `--peer-hnsw-max N` builds faiss's HNSW only at sizes up to N (1.4–1.5× slower than kiban's
 * here, 72–147 s at 100k: about half an hour at 1M on this machine). Besides wall-clock figures,
 * queries per CPU second and the p99 of CPU time per query, which the other work on a shared
 * machine does not distort. The last line printed is one JSON object; progress goes to stderr.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Random } from '../src/core/random.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import { ExactVectorIndex } from '../src/vectors/exact-index.js';
import { HnswVectorIndex } from '../src/vectors/hnsw-index.js';
import { saveVectorIndex } from '../src/vectors/stored-index.js';
import type { VectorIndex } from '../src/vectors/vector-index.js';
import { fixedRateGenerator, measureAtRate } from './http-load.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    queries: { type: 'string', default: '1000' },
    dim: { type: 'string', default: '64' },
    clusters: { type: 'string', default: '1000' },
    k: { type: 'string', default: '10' },
    ef: { type: 'string', default: '16,32,64,128' },
    repeats: { type: 'string', default: '3' },
    'single-queries': { type: 'string', default: '0' },
    seed: { type: 'string', default: '7' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    generator: { type: 'string', default: 'auto' },
    python: { type: 'string', default: '/usr/bin/python3' },
    'no-http': { type: 'boolean', default: false },
    'no-int8': { type: 'boolean', default: false },
    'no-peer': { type: 'boolean', default: false },
    'peer-hnsw-max': { type: 'string', default: '0' },
    'serve-bare': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`${readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]}*/\n`);
  process.exit(0);
}
if (values['serve-bare']) await serveBare();

const sizes = values.sizes.split(',').map(Number);
const nq = Number(values.queries);
const dim = Number(values.dim);
const nClusters = Number(values.clusters);
const k = Number(values.k);
const efs = values.ef.split(',').map(Number);
const repeats = Number(values.repeats);
/** Queries timed one at a time (0: all of them). */
const singleCount = Number(values['single-queries']) || nq;
const seed = Number(values.seed);
const say = (line: string): void => void process.stderr.write(`${line}\n`);

// ───────────────────────────── data ─────────────────────────────

/** The mixture: 1,000 centres ~ N(0, I) and per-axis scales log-uniform in [0.1, 1]. */
function mixture(rng: Random): { centres: Float32Array; scales: Float32Array } {
  const centres = rng.fillGaussian(new Float32Array(nClusters * dim), 1);
  const scales = new Float32Array(nClusters * dim);
  for (let i = 0; i < scales.length; i++) scales[i] = 0.1 * 10 ** rng.next();
  return { centres, scales };
}

/** `n` unit vectors drawn from the mixture (cluster uniform), row-major. */
function draw(n: number, mix: ReturnType<typeof mixture>, rng: Random): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.nextInt(nClusters) * dim;
    let s = 0;
    for (let a = 0; a < dim; a++) {
      const x = mix.centres[c + a] + mix.scales[c + a] * rng.nextGaussian();
      out[i * dim + a] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let a = 0; a < dim; a++) out[i * dim + a] *= inv;
  }
  return out;
}

/** .fvecs: per row an int32 dimension then the floats. */
async function writeFvecs(path: string, rows: Float32Array): Promise<void> {
  const n = rows.length / dim;
  const out = new Float32Array(n * (dim + 1));
  const asInt = new Int32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    asInt[i * (dim + 1)] = dim;
    out.set(rows.subarray(i * dim, (i + 1) * dim), i * (dim + 1) + 1);
  }
  await writeFile(path, new Uint8Array(out.buffer));
}

// ───────────────────────────── measuring ─────────────────────────────

const now = (): number => performance.now() / 1000;
const rss = (): number => process.memoryUsage().rss;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Mean over queries of |found ∩ truth| / k (both `nq × k`, row-major). */
function recall(found: ArrayLike<number>, truth: ArrayLike<number>): number {
  let hits = 0;
  for (let q = 0; q < nq; q++) {
    const want = new Set<number>();
    for (let j = 0; j < k; j++) want.add(truth[q * k + j]);
    for (let j = 0; j < k; j++) if (want.has(found[q * k + j])) hits++;
  }
  return hits / (nq * k);
}

/**
 * Best-of-`repeats` batch queries/s, the answers of the last run, and queries per CPU second of
 * the process (best run; on one thread this is the search's own cost, which the other work on
 * a shared machine does not distort, where the wall-clock figure counts the time it waited).
 */
async function batch(
  index: VectorIndex,
  queries: Float32Array,
  ef?: number,
): Promise<{ qps: number; cpuQps: number; keys: ArrayLike<number> }> {
  let best = Number.POSITIVE_INFINITY;
  let bestCpu = Number.POSITIVE_INFINITY;
  let keys: ArrayLike<number> = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = now();
    const result = await index.search(queries, ef === undefined ? { k } : { k, ef });
    best = Math.min(best, now() - t0);
    const c = process.cpuUsage(c0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
    keys = result.keys;
  }
  return { qps: nq / best, cpuQps: nq / bestCpu, keys };
}

/**
 * One query per search call, `repeats` passes over the first `singleCount` queries: p50 and p99
 * in ms of the pass with the lowest p99 (the least disturbed by the other work on a shared
 * machine), the p99 over all passes' samples, and the p50/p99 of the process's CPU time per
 * query (a single query runs on the calling thread, so this is the search's own cost, without
 * the time the machine's scheduler kept it waiting).
 */
async function single(
  index: VectorIndex,
  queries: Float32Array,
  ef?: number,
): Promise<Record<'p50Ms' | 'p99Ms' | 'p99AllMs' | 'cpuP50Ms' | 'cpuP99Ms', number>> {
  const all = new Float64Array(singleCount * repeats);
  const cpu = new Float64Array(singleCount * repeats);
  let best = { p50Ms: Number.POSITIVE_INFINITY, p99Ms: Number.POSITIVE_INFINITY };
  for (let r = 0; r < repeats; r++) {
    const times = all.subarray(r * singleCount, (r + 1) * singleCount);
    for (let q = 0; q < singleCount; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await index.search(query, ef === undefined ? { k } : { k, ef });
      times[q] = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = process.cpuUsage(c0);
      cpu[r * singleCount + q] = (c.user + c.system) / 1e3;
    }
    const sorted = times.slice().sort();
    const pass = { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    if (pass.p99Ms < best.p99Ms) best = pass;
  }
  all.sort();
  cpu.sort();
  return {
    p50Ms: round(best.p50Ms, 4),
    p99Ms: round(best.p99Ms, 4),
    p99AllMs: round(percentile(all, 99), 4),
    cpuP50Ms: round(percentile(cpu, 50), 4),
    cpuP99Ms: round(percentile(cpu, 99), 4),
  };
}

/** Adds `rows` to `index` in tenths, saying how far it got (HNSW builds take minutes at 1M). */
async function build(index: VectorIndex, rows: Float32Array, label: string): Promise<number> {
  const n = rows.length / dim;
  const step = Math.max(1, Math.ceil(n / 10));
  const t0 = now();
  for (let start = 0; start < n; start += step) {
    const end = Math.min(n, start + step);
    const keys = new Uint32Array(end - start).map((_, i) => start + i);
    await index.add(keys, rows.subarray(start * dim, end * dim));
    if (n >= 200_000) say(`  kiban: ${label} ${end}/${n} (${(now() - t0).toFixed(1)} s)`);
  }
  return now() - t0;
}

/** Runs the faiss peer in `mode` and reads back its neighbours. */
async function peer(
  mode: 'flat' | 'hnsw',
  dir: string,
): Promise<{ figures: any; found: (name: string) => Int32Array }> {
  const out = join(dir, 'faiss');
  const args = ['bench/peers/faiss_vectors.py', '--mode', mode, '--base', join(dir, 'base.fvecs')];
  args.push('--queries', join(dir, 'queries.fvecs'), '--out', out, '--k', String(k));
  args.push('--ef', values.ef, '--repeats', String(repeats));
  args.push('--single-queries', String(singleCount));
  const child = promisify(execFile)(values.python, args, { maxBuffer: 1 << 26 });
  child.child.stderr?.pipe(process.stderr);
  const { stdout } = await child;
  const figures = JSON.parse(stdout.trim().split('\n').at(-1)!);
  return {
    figures,
    found: (name) => new Int32Array(readFileSync(`${out}.${name}.i32`).buffer.slice(0)),
  };
}

// ───────────────────────────── one size ─────────────────────────────

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

async function runSize(n: number, http: boolean): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'kiban-bench-vectors-'));
  try {
    say(`\n── n = ${n} × ${dim}: generating…`);
    const rng = new Random(seed);
    const mix = mixture(rng);
    const base = draw(n, mix, new Random(seed + 1));
    const queries = draw(nq, mix, new Random(seed + 2));
    await writeFvecs(join(dir, 'base.fvecs'), base);
    await writeFvecs(join(dir, 'queries.fvecs'), queries);

    // 1. exact. The float32 answers on 2 threads are the ground truth (rescored in float64).
    const exact: Record<string, any> = {};
    let truth: ArrayLike<number> = [];
    for (const quantize of values['no-int8'] ? [undefined] : [undefined, 'int8' as const]) {
      const name = quantize ?? 'float32';
      const figures: Record<string, any> = {};
      for (const threads of [2, 1]) {
        const r0 = rss();
        const index = new ExactVectorIndex({ dim, metric: 'ip', threads, capacity: n, quantize });
        const seconds = await build(index, base, `exact ${name} add`);
        const grown = rss() - r0;
        const { qps, cpuQps, keys } = await batch(index, queries);
        figures[`qps${threads}`] = round(qps, 1);
        if (threads === 1) figures.cpuQps1 = round(cpuQps, 1);
        if (threads === 2) {
          figures.buildSeconds = round(seconds, 3);
          figures.rssGrowthBytes = grown;
          figures.indexBytes = index.serialize().byteLength;
          if (quantize === undefined) truth = Int32Array.from(keys);
          figures.recall = round(recall(keys, truth));
        } else Object.assign(figures, await single(index, queries));
        index.close();
      }
      exact[name] = figures;
      say(`  kiban exact ${name}: ${JSON.stringify(figures)}`);
    }
    let faissFlat: any = null;
    if (!values['no-peer']) {
      const { figures, found } = await peer('flat', dir);
      faissFlat = { ...figures, recall: round(recall(found('flat'), truth)) };
      say(`  faiss flat: ${JSON.stringify(faissFlat)}`);
    }

    // 2. HNSW: built on 2 threads; the 1-thread copy is the same graph (serialize → load).
    const r0 = rss();
    const hnsw = await HnswVectorIndex.create(dim, 'ip', {
      connectivity: 16,
      expansionAdd: 200,
      threads: 2,
    });
    const buildSeconds = await build(hnsw, base, 'HNSW add');
    const rssGrowthBytes = rss() - r0;
    const bytes = hnsw.serialize();
    const t0 = now();
    const hnsw1 = await HnswVectorIndex.deserialize(bytes, { threads: 1 });
    const loadSeconds = now() - t0;
    const kibanHnsw: Record<string, any> = {
      buildSeconds: round(buildSeconds, 2),
      loadSeconds: round(loadSeconds, 2),
      indexBytes: bytes.byteLength,
      rssGrowthBytes,
      defaults: { connectivity: 16, expansionAdd: 200, expansionSearch: hnsw.expansionSearch },
      efs: {},
    };
    for (const ef of efs) {
      const two = await batch(hnsw, queries, ef);
      const one = await batch(hnsw1, queries, ef);
      kibanHnsw.efs[ef] = {
        recall: round(recall(two.keys, truth)),
        qps1: round(one.qps, 1),
        qps2: round(two.qps, 1),
        cpuQps1: round(one.cpuQps, 1),
        ...(await single(hnsw1, queries, ef)),
      };
      say(`  kiban HNSW ef ${ef}: ${JSON.stringify(kibanHnsw.efs[ef])}`);
    }
    hnsw1.close();
    let faissHnsw: any = null;
    const peerHnswMax = Number(values['peer-hnsw-max']) || Number.POSITIVE_INFINITY;
    if (!values['no-peer'] && n <= peerHnswMax) {
      const { figures, found } = await peer('hnsw', dir);
      for (const ef of efs) figures.efs[ef].recall = round(recall(found(`hnsw${ef}`), truth));
      faissHnsw = figures;
      say(`  faiss HNSW: ${JSON.stringify(faissHnsw)}`);
    }
    const result: Record<string, unknown> = {
      n,
      exact,
      faissFlat,
      hnsw: kibanHnsw,
      faissHnsw,
      ratios: faissHnsw === null ? null : ratios(exact, faissFlat, kibanHnsw, faissHnsw),
      exactRatios:
        faissFlat === null
          ? null
          : {
              qps1: round(exact.float32.qps1 / faissFlat.search.qps1, 2),
              qps2: round(exact.float32.qps2 / faissFlat.search.qps2, 2),
              cpuQps1: round(exact.float32.cpuQps1 / faissFlat.search.cpuQps1, 2),
            },
    };
    if (http) result.http = await serveLoad(dir, hnsw, queries);
    hnsw.close();
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** kiban ÷ faiss for every q/s and build figure (above 1: kiban faster). */
function ratios(exact: any, flat: any, hnsw: any, peerHnsw: any): Record<string, number> {
  const out: Record<string, number> = {
    exactQps1: round(exact.float32.qps1 / flat.search.qps1, 2),
    exactQps2: round(exact.float32.qps2 / flat.search.qps2, 2),
    exactCpuQps1: round(exact.float32.cpuQps1 / flat.search.cpuQps1, 2),
    hnswBuildSpeed: round(peerHnsw.buildSeconds / hnsw.buildSeconds, 2),
  };
  for (const ef of efs) {
    out[`ef${ef}Qps1`] = round(hnsw.efs[ef].qps1 / peerHnsw.efs[ef].qps1, 2);
    out[`ef${ef}Qps2`] = round(hnsw.efs[ef].qps2 / peerHnsw.efs[ef].qps2, 2);
    out[`ef${ef}CpuQps1`] = round(hnsw.efs[ef].cpuQps1 / peerHnsw.efs[ef].cpuQps1, 2);
    out[`ef${ef}RecallDelta`] = round(hnsw.efs[ef].recall - peerHnsw.efs[ef].recall);
  }
  return out;
}

// ───────────────────────────── HTTP ─────────────────────────────

/**
 * `kiban serve` on `index` saved as `items` (keys are row numbers, so ids are "0" … "n-1"),
 * against the bare route, alternating, at the fixed rate.
 */
async function serveLoad(dir: string, index: HnswVectorIndex, queries: Float32Array) {
  say('  HTTP: saving the index for kiban serve…');
  const artifacts = join(dir, 'artifacts');
  await saveVectorIndex(new FileArtifactStore(artifacts), 'items', index, null);
  const config = join(dir, 'serve.yaml');
  await writeFile(
    config,
    `stores:\n  serving: "sqlite:${join(dir, 'serving.db')}"\n  metadata: "sqlite:${join(dir, 'meta.db')}"\n  artifacts: "file:${artifacts}"\n`,
  );
  const bodies = join(dir, 'bodies.jsonl');
  const lines: string[] = [];
  for (let q = 0; q < nq; q++)
    lines.push(JSON.stringify({ vector: Array.from(queries.subarray(q * dim, (q + 1) * dim)), k }));
  await writeFile(bodies, `${lines.join('\n')}\n`);
  const item = String(Math.floor((index.size * 7) / 13));
  const similar = `/v1/items/${item}/similar?k=${k}`;
  const servers: ServerProcess[] = [];
  try {
    const kiban = await startServerProcess(
      ['src/cli/main.ts', 'serve', '--config', config, '--port', '0'],
      /kiban is serving on (http:\/\/\S+)/,
    );
    servers.push(kiban);
    const bare = await startServerProcess(
      ['bench/vectors.ts', '--serve-bare'],
      /listening on (http:\/\/\S+)/,
    );
    servers.push(bare);
    // The server loads the index on start (a few seconds at 1M); 503 until then.
    for (let tries = 0; ; tries++) {
      const response = await fetch(kiban.url + similar);
      if (response.ok) break;
      if (tries > 600) throw new Error(`kiban serve never answered: ${await response.text()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const generator = fixedRateGenerator(dir, values.generator as 'auto' | 'c' | 'node');
    const rate = Number(values.rate);
    const seconds = Number(values.seconds);
    const phases: Record<string, any> = {};
    const pick = (r: Awaited<ReturnType<typeof measureAtRate>>) => ({
      p50Ms: r.latencyMs.p50,
      p99Ms: r.latencyMs.p99,
      p999Ms: r.latencyMs.p999,
      lateP99Ms: r.lateMs.p99,
      achievedRate: Math.round(r.achievedRate),
      serverCpuMicrosecondsPerRequest: r.serverCpuMicrosecondsPerRequest,
      non2xx: r.non2xx,
      errors: r.errors,
    });
    // Alternating bare → kiban per route, so drift on the shared machine hits both alike.
    for (const [route, path, body] of [
      ['similar', similar, '-'],
      ['search', '/v1/vectors/items/search', bodies],
    ] as const) {
      for (const [name, server] of [
        ['bare', bare],
        ['kiban', kiban],
      ] as const) {
        say(`  HTTP: ${route} on ${name} at ${rate} req/s…`);
        phases[`${route}_${name}`] = pick(
          await measureAtRate(generator, server, path, body, rate, seconds),
        );
        say(`    ${JSON.stringify(phases[`${route}_${name}`])}`);
      }
      const b = phases[`${route}_bare`];
      const kb = phases[`${route}_kiban`];
      phases[`${route}_p99OverBareMs`] = round(kb.p99Ms - b.p99Ms, 3);
    }
    return { generator: generator.name, rate, seconds, item, ...phases };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/**
 * The bare floor for the HTTP phase, in its own process: fastify answering the same two routes,
 * with JSON schemas of the same shape as kiban's, a constant 10-hit answer.
 */
async function serveBare(): Promise<never> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  const hit = {
    type: 'object',
    properties: { id: { type: 'string' }, score: { type: 'number' } },
  };
  const hits = Array.from({ length: 10 }, (_, i) => ({
    id: String(1000 + i),
    score: 0.9 - i / 100,
  }));
  app.get(
    '/v1/items/:id/similar',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              item: { type: 'string' },
              index: { type: 'string' },
              version: { type: 'string' },
              items: { type: 'array', items: hit },
            },
          },
        },
      },
    },
    async (request) => ({
      item: (request.params as { id: string }).id,
      index: 'items',
      version: 'bare',
      items: hits,
    }),
  );
  app.post(
    '/v1/vectors/:index/search',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            vector: { type: 'array', items: { type: 'number' }, maxItems: 4096 },
            k: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              index: { type: 'string' },
              version: { type: 'string' },
              results: { type: 'array', items: { type: 'array', items: hit } },
            },
          },
        },
      },
    },
    async () => ({ index: 'items', version: 'bare', results: [hits] }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(
    `listening on http://127.0.0.1:${(app.server.address() as { port: number }).port}\n`,
  );
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  return new Promise<never>(() => {});
}

// ───────────────────────────── main ─────────────────────────────

const started = new Date();
const results: Record<string, unknown>[] = [];
for (const n of sizes)
  results.push(await runSize(n, !values['no-http'] && n === Math.max(...sizes)));
const report = {
  bench: 'vectors',
  date: started.toISOString(),
  machine: {
    cpu: cpus()[0]?.model,
    cores: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    loadAverage: loadavg().map((x) => round(x, 2)),
  },
  config: {
    dim,
    clusters: nClusters,
    queries: nq,
    singleQueries: singleCount,
    k,
    efs,
    repeats,
    seed,
    metric: 'ip',
  },
  sizes: results,
};
console.log(JSON.stringify(report));
