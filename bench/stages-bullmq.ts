/**
 * The BullMQ stage runner scaling out over worker processes (issue 21's goal: 2 workers ≥ 1.7×
 * faster than 1 on a CPU-bound stage on a 2-core machine).
 *
 * The stage is `cpuBurn` of test/fixtures/stages-bullmq/stages.ts: `--rounds` rounds of an
 * integer hash per record in preprocess, over `--records` synthetic ids (a `range` source, cut
 * into `--partitions` preprocess jobs), summed by 2 main ranks. Workers are
 * `kiban stage bullmq-worker` processes (concurrency 1 each), each in its own working directory
 * holding its own copy of the stage module, sharing only Redis (a fresh queue prefix) and a
 * `file:` artifact store. Runs alternate between 1 worker and 2 workers (the second started
 * and stopped around its runs), `--reps` times each; the best of each is compared. Every run
 * reports wall seconds, the CPU seconds of the workers (from /proc, all their threads), of this
 * coordinator process and of Redis, and the load average before and after, since the machine
 * is shared. Beside it, the same hashing without kiban on 1 and on 2 bare threads: the speed-up
 * the machine itself allowed during the run.
 *
 *   npx tsx bench/stages-bullmq.ts [--records 2000000] [--rounds 1000] [--partitions 8] [--reps 2]
 *
 * Needs Redis at 127.0.0.1:6379. Last line: JSON with every figure and the machine.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { BullmqStageRunner } from '../src/stages/runners/bullmq-runner.js';
import { FileArtifactStore } from '../src/storage/artifacts/file-artifact-store.js';
import {
  projectCopy,
  startStageWorker,
  type WorkerProcess,
} from '../test/fixtures/stages-bullmq/workers.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '8' },
    reps: { type: 'string', default: '2' },
  },
  strict: true,
});
const RECORDS = Number(values.records);
const ROUNDS = Number(values.rounds);
const PARTITIONS = Number(values.partitions);
const REPS = Number(values.reps);
const REPO = resolve(import.meta.dirname, '..');
const REDIS = 'redis://127.0.0.1:6379';
const STAGE = join(REPO, 'test/fixtures/stages-bullmq/stages.ts');
const PROJECT_FILES = ['src/stages/stage.ts', 'test/fixtures/stages-bullmq/stages.ts'];
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system, every thread) of a live process, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const num = (name: string): number =>
    Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return num('used_cpu_sys') + num('used_cpu_user');
}

async function stopWorker(w: WorkerProcess): Promise<void> {
  w.child.kill('SIGTERM');
  await w.exited;
}

/** The hashing of `cpuBurn` without kiban, on `threads` threads at once, `perThread` ids each. */
async function bare(threads: number, perThread: number): Promise<number> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    let acc = 0;
    for (let id = 0; id < workerData.n; id++) {
      let h = id | 0;
      for (let i = 0; i < workerData.rounds; i++) { h ^= h << 13; h ^= h >>> 17; h = Math.imul(h ^ (h << 5), 0x9e3779b1); }
      acc = (acc + (h >>> 0)) % 1000000007;
    }
    parentPort.postMessage(acc);`;
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise((done, fail) => {
          const w = new Worker(code, { eval: true, workerData: { n: perThread, rounds: ROUNDS } });
          w.once('message', done);
          w.once('error', fail);
        }),
    ),
  );
  return (performance.now() - t0) / 1000;
}

interface RunFigures {
  workers: number;
  seconds: number;
  workerCpuSeconds: number;
  /** Each worker's share, in start order. */
  perWorkerCpuSeconds: number[];
  coordinatorCpuSeconds: number;
  redisCpuSeconds: number;
  loadBefore: number;
  loadAfter: number;
  sum: number;
}

async function main(): Promise<void> {
  const prefix = `kiban-bench-${randomBytes(4).toString('hex')}`;
  const base = await mkdtemp(join(tmpdir(), 'kiban-bench-bullmq-'));
  const artifactsDir = join(base, 'artifacts');
  await mkdir(artifactsDir);
  const store = new FileArtifactStore(artifactsDir);
  const redis = new Redis(REDIS);
  const dirs = await Promise.all(
    ['worker-a', 'worker-b'].map((n) => projectCopy(join(base, n), PROJECT_FILES)),
  );
  const runner = new BullmqStageRunner({ redisUrl: REDIS, artifacts: store, root: REPO, prefix });
  const workerOptions = {
    redis: REDIS,
    artifacts: artifactsDir,
    queuePrefix: prefix,
    inheritStderr: true,
  };
  const a = await startStageWorker(dirs[0], workerOptions);
  const figures: RunFigures[] = [];
  const run = async (workers: WorkerProcess[], records: number): Promise<RunFigures> => {
    const pids = workers.map((w) => w.child.pid as number);
    const cpu0 = pids.map(cpuSeconds);
    const own0 = process.cpuUsage();
    const redis0 = await redisCpu(redis);
    const loadBefore = loadavg()[0];
    const t0 = performance.now();
    const result = await runner.run(
      { module: STAGE, export: 'cpuBurn' },
      {
        source: { kind: 'range', to: records },
        params: { rounds: ROUNDS },
        numPreprocessors: PARTITIONS,
        count: 2,
        batchSize: 4096,
        log: () => {},
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    const own = process.cpuUsage(own0);
    const outs = result.outputs as { n: number; sum: number }[];
    if (outs.reduce((s, o) => s + o.n, 0) !== records) throw new Error('records lost');
    return {
      workers: workers.length,
      seconds,
      workerCpuSeconds: pids.map(cpuSeconds).reduce((s, c, i) => s + c - cpu0[i], 0),
      perWorkerCpuSeconds: pids.map((pid, i) => cpuSeconds(pid) - cpu0[i]),
      coordinatorCpuSeconds: (own.user + own.system) / 1e6,
      redisCpuSeconds: (await redisCpu(redis)) - redis0,
      loadBefore,
      loadAfter: loadavg()[0],
      sum: outs.reduce((s, o) => (s + o.sum) % 1_000_000_007, 0),
    };
  };
  try {
    // Warm-up: module loading and the file store's folders, on the first worker only.
    await run([a], Math.min(RECORDS, 50_000));
    for (let rep = 0; rep < REPS; rep++) {
      const one = await run([a], RECORDS);
      figures.push(one);
      log(one);
      const b = await startStageWorker(dirs[1], workerOptions);
      const two = await run([a, b], RECORDS);
      figures.push(two);
      log(two);
      await stopWorker(b);
      if (two.sum !== one.sum) throw new Error('1 and 2 workers disagree');
    }
    const perThread = Math.max(1, Math.floor(RECORDS / 4));
    const bare1 = await bare(1, perThread);
    const bare2 = await bare(2, perThread);
    const best = (w: number): number =>
      Math.min(...figures.filter((f) => f.workers === w).map((f) => f.seconds));
    const speedup = best(1) / best(2);
    const machine = (2 * bare1) / bare2;
    process.stdout.write(
      `best: 1 worker ${best(1).toFixed(2)} s, 2 workers ${best(2).toFixed(2)} s: speed-up ${speedup.toFixed(2)}× (goal ≥ 1.7)\n` +
        `bare hashing, ${perThread} ids per thread: 1 thread ${bare1.toFixed(2)} s, 2 threads ${bare2.toFixed(2)} s: the machine allowed ${machine.toFixed(2)}×\n`,
    );
    process.stdout.write(
      `${JSON.stringify({
        records: RECORDS,
        rounds: ROUNDS,
        partitions: PARTITIONS,
        runs: figures,
        best: { one: best(1), two: best(2) },
        speedup,
        bare: { perThread, oneThread: bare1, twoThreads: bare2, speedup: machine },
        machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, load: loadavg() },
      })}\n`,
    );
  } finally {
    await stopWorker(a);
    await store.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit();
    await rm(base, { recursive: true, force: true });
  }
}

function log(f: RunFigures): void {
  process.stdout.write(
    `${f.workers} worker(s): ${f.seconds.toFixed(2)} s wall, workers ${f.workerCpuSeconds.toFixed(2)} CPU s (${f.perWorkerCpuSeconds.map((c) => c.toFixed(2)).join(' + ')}), ` +
      `coordinator ${f.coordinatorCpuSeconds.toFixed(2)}, Redis ${f.redisCpuSeconds.toFixed(2)}; load ${f.loadBefore.toFixed(2)} → ${f.loadAfter.toFixed(2)}\n`,
  );
}

await main();
