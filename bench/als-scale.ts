/**
 * ALS at scale: trains implicit ALS on a synthetic power-law data set (default 10 million
 * interactions, 1M users × 100k items) and reports wall and CPU seconds per iteration and peak
 * memory; the arithmetic an iteration needs, counted from the plan the engine chose for each
 * side (rotation into the eigenbasis, Woodbury for short rows, CG passes per interaction, YᵀY)
 * and the bytes it must gather at least (each interaction's other-side row once per half-step);
 * the rates achieved, and the machine's limits for this code measured in the same run: the ALS
 * kernel's own SIMD rate on data in cache (gramRows, one thread, × cores) and a single-thread
 * memory copy rate.
 *
 *   npx tsx bench/als-scale.ts [--users 1000000] [--items 100000] [--nnz 10000000]
 *                              [--factors 64] [--iterations 3] [--threads 0]
 *
 * User activity and item popularity both follow power laws (a few heavy users, a long tail of
 * items), as real logs do. Last line: JSON with the figures and the machine.
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/random.js';
import { CsrMatrix } from '../src/data/csr-matrix.js';
import { IdMap } from '../src/data/id-map.js';
import { Interactions } from '../src/data/interactions.js';
import { AlsRecommender } from '../src/models/als/als-recommender.js';
import { AlsWasmEngine, alsWasmModule, type AlsLayout } from '../src/models/als/als-wasm.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    items: { type: 'string', default: '100000' },
    nnz: { type: 'string', default: '10000000' },
    factors: { type: 'string', default: '64' },
    iterations: { type: 'string', default: '3' },
    threads: { type: 'string', default: '0' },
  },
});
const nUsers = Number(values.users);
const nItems = Number(values.items);
const nnz = Number(values.nnz);

let peakRss = 0;
const sample = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const sampler = setInterval(sample, 50);

const t0 = performance.now();
const rng = new Random(1);
const rows = new Int32Array(nnz);
const cols = new Int32Array(nnz);
for (let e = 0; e < nnz; e++) {
  // Inverse-transform sampling of power laws: density ∝ x^(1/a − 1) on (0, 1].
  rows[e] = Math.min(nUsers - 1, Math.floor(nUsers * rng.next() ** 1.5));
  cols[e] = Math.min(nItems - 1, Math.floor(nItems * rng.next() ** 3));
}
const matrix = CsrMatrix.fromCoordinates(nUsers, nItems, rows, cols, null).map(() => 1);
const ids = (n: number): IdMap => IdMap.fromSortedIds(Array.from({ length: n }, (_, i) => i));
const data = new Interactions(ids(nUsers), ids(nItems), matrix);
const buildSeconds = (performance.now() - t0) / 1000;
console.log(
  `data: ${nUsers} users × ${nItems} items, ${data.nnz} distinct pairs from ${nnz} draws, built in ${buildSeconds.toFixed(1)} s`,
);

const iterationSeconds: number[] = [];
const iterationCpuSeconds: number[] = [];
let cpuMark = process.cpuUsage();
const model = new AlsRecommender({
  factors: Number(values.factors),
  iterations: Number(values.iterations),
  threads: Number(values.threads),
});
const report = await model.fit(data, {
  progress: false,
  loss: false,
  onIteration: (r) => {
    iterationSeconds.push(r.seconds);
    const cpu = process.cpuUsage(cpuMark);
    iterationCpuSeconds.push((cpu.user + cpu.system) / 1e6);
    cpuMark = process.cpuUsage();
    sample();
    console.log(`iteration ${r.iteration}/${r.iterations}: ${r.seconds.toFixed(2)} s`);
  },
});
clearInterval(sampler);
sample();
const perIteration = iterationSeconds.reduce((a, b) => a + b, 0) / iterationSeconds.length;
// The first iteration's CPU also counts the engine's set-up (copies, worker start-up).
const steadyCpu =
  iterationCpuSeconds.length > 1 ? iterationCpuSeconds.slice(1) : iterationCpuSeconds;
const cpuPerIteration = steadyCpu.reduce((a, b) => a + b, 0) / steadyCpu.length;

// What one iteration needs, counted from the plan the engine makes for this data (the same
// decisions as in the fit: AlsWasmEngine.create is deterministic), in flops (a multiply-add is 2).
const f = Number(values.factors);
const steps = model.params.cgSteps;
const threads = Number(values.threads) || availableParallelism();
const planEngine = AlsWasmEngine.create(data.userItems, data.itemUsers, f, threads, steps);
if (planEngine === null) throw new Error('the ALS kernel is not built (npm run build:wasm)');
const layout: AlsLayout = planEngine.layout;
await planEngine.close();
const pairs = data.nnz;
const sideFlops = (solved: 'users' | 'items'): number => {
  const s = layout[solved];
  const fixedRows = layout[solved === 'users' ? 'items' : 'users'].rows;
  const indptr = (solved === 'users' ? data.userItems : data.itemUsers).indptr;
  let total = fixedRows * f * (f + 4); // YᵀY, upper triangle from each 4-aligned block
  if (s.rotate) total += fixedRows * 2 * f * f + (s.shortLimit > 0 ? fixedRows * f : 0);
  for (let row = 0; row < s.rows; row++) {
    const n = indptr[row + 1] - indptr[row];
    if (n <= s.shortLimit) {
      total += n * (n + 1) * f + 2 * ((n * n * n) / 6 + 3 * n * n) + 2 * n * f + f;
    } else {
      const product = s.rotate ? f : 2 * f * f;
      total += (s.rotate ? 2 * f * f : 0) + (steps + 1) * (product + 4 * n * f) + steps * 10 * f;
    }
  }
  return total;
};
const flops = sideFlops('users') + sideFlops('items');
// Bytes: each interaction's index, value and other-side row once per half-step (later passes
// over a row's interactions hit the caches); each factor row read and written once per side.
const bytes = 2 * pairs * (8 + 4 * f) + 2 * (data.users.size + data.items.size) * 4 * f * 2;
const plan = (side: 'users' | 'items'): string => {
  const s = layout[side];
  if (s.stream !== null) return 'streamed';
  return s.rotate ? `rotated, Woodbury up to ${s.shortLimit}` : 'row by row';
};
console.log(`plan: users ${plan('users')}; items ${plan('items')}`);

// The machine's limits for this code: the kernel's gramRows (f×f axpys on a block of Y in cache).
const kernelModule = alsWasmModule();
let kernelGflops = Number.NaN;
if (kernelModule !== null) {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  const k = new WebAssembly.Instance(kernelModule, { env: { memory } }).exports as unknown as {
    gramRows(f: number, y: number, start: number, end: number, out: number): void;
  };
  const yPtr = 65536;
  const blockRows = 256; // 64 KiB of Y at f = 64: stays in L2
  const outPtr = yPtr + blockRows * f * 4;
  new Float32Array(memory.buffer, yPtr, blockRows * f).fill(0.5);
  let reps = 0;
  const t = performance.now();
  while (performance.now() - t < 1000) {
    k.gramRows(f, yPtr, 0, blockRows, outPtr);
    reps++;
  }
  kernelGflops = (reps * blockRows * 2 * f * f) / ((performance.now() - t) / 1000) / 1e9;
}
const copyBytes = 2 ** 28;
const src = new Float64Array(copyBytes / 8).fill(1);
const dst = new Float64Array(copyBytes / 8);
dst.set(src);
const tc = performance.now();
for (let r = 0; r < 4; r++) dst.set(src);
const copyGBs = (4 * 2 * copyBytes) / ((performance.now() - tc) / 1000) / 1e9;
const cores = availableParallelism();
const achievedGflops = flops / perIteration / 1e9;
const achievedGBs = bytes / perIteration / 1e9;
console.log(
  `an iteration needs ${(flops / 1e9).toFixed(1)} GFLOP and moves ≥ ${(bytes / 1e9).toFixed(1)} GB: ` +
    `${achievedGflops.toFixed(2)} GFLOP/s (${((100 * achievedGflops) / (kernelGflops * cores)).toFixed(0)}% of the kernel's in-cache ${kernelGflops.toFixed(2)} GFLOP/s × ${cores} cores), ` +
    `${achievedGBs.toFixed(2)} GB/s (one thread copies ${copyGBs.toFixed(1)} GB/s)`,
);
console.log(
  `fit ${report.seconds.toFixed(1)} s, ${perIteration.toFixed(2)} s per iteration (${cpuPerIteration.toFixed(2)} CPU s after the first), peak RSS ${(peakRss / 2 ** 30).toFixed(2)} GiB`,
);
console.log(
  JSON.stringify({
    bench: 'als-scale',
    users: nUsers,
    items: nItems,
    draws: nnz,
    pairs: data.nnz,
    factors: Number(values.factors),
    iterations: report.iterations,
    secondsPerIteration: perIteration,
    cpuSecondsPerIterationAfterFirst: cpuPerIteration,
    iterationSeconds,
    iterationCpuSeconds,
    plan: { users: plan('users'), items: plan('items') },
    loadAverage: loadavg(),
    fitSeconds: report.seconds,
    peakRssGiB: peakRss / 2 ** 30,
    gflopPerIteration: flops / 1e9,
    gbPerIteration: bytes / 1e9,
    achievedGflops,
    achievedGBs,
    kernelInCacheGflopsPerCore: kernelGflops,
    copyGBsOneThread: copyGBs,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
  }),
);
