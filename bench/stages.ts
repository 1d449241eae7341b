/**
 * Throughput of the stage framework (src/stages), two parts:
 *
 * 1. Scaling: a CPU-bound preprocess (`busy` in bench/stages-fixtures.ts: `--rounds` rounds of
 *    integer hashing per record, about 1–2 µs) over `--records` synthetic ids from a DuckDB query
 *    source (`SELECT range AS id FROM range(N)`, cut into one LIMIT/OFFSET range per preprocess
 *    worker, so no record travels in the spec), on the threads runner with 1 and then 2
 *    preprocess workers (1 main). Reported: records/s over the whole run (thread start and
 *    partition planning included), the speed-up, the hashing alone on this thread (to show that
 *    preprocess dominates), and the same hashing without the framework on 1 and 2 bare threads:
 *    the speed-up the machine itself allowed during the run (on a shared machine, other load
 *    caps both).
 * 2. Transport: records of about 1 KB (`{ id, name: 200 chars, vec: Float32Array(198) }`) and
 *    64 KB (`{ id, vec: Float32Array(16384) }`) from one preprocess process to one main process
 *    on the ZeroMQ runner (MB/s counted by main from its first record to its last), once with a
 *    per-record `async *preprocess` (`transfer`) and once with `preprocessBatches`
 *    (`transferBatches`), beside raw
 *    zeromq PUSH/PULL between a child process and this one, with the same number of messages of
 *    the same size and the same high-water mark: `rawBytes` sends one pre-encoded msgpack batch
 *    again and again, `rawMsgpack` packs each batch (and this side unpacks it) with plain msgpackr.
 *    Stage and raw runs alternate, `--reps` times each; the best of each is compared.
 *
 *   npx tsx bench/stages.ts [--records 10000000] [--rounds 500] [--seconds 2] [--reps 3] [--part 1|2]
 *
 * `--seconds` sizes part 2: each run moves about that many seconds' worth of data at the raw
 * rate of a short calibration run. Last line: JSON with the figures and the machine.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import * as zmq from 'zeromq';
import { ThreadStageRunner } from '../src/stages/runners/thread-runner.js';
import { DATA_HWM } from '../src/stages/runners/zmq-worker.js';
import { ZmqStageRunner } from '../src/stages/runners/zmq-runner.js';
import { hash, record } from './stages-fixtures.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000000' },
    rounds: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '2' },
    reps: { type: 'string', default: '3' },
    part: { type: 'string' },
    // Internal: run as the raw sender child of part 2.
    'send-raw': { type: 'string' },
  },
  allowPositionals: true,
  strict: false,
});

/** Plain msgpackr, as the stage protocol used before large arrays went out of band. */
const packr = new Packr({ moreTypes: true, useRecords: true });
const fixtures = { module: fileURLToPath(new URL('./stages-fixtures.ts', import.meta.url)) };

const child = typeof values['send-raw'] === 'string';
if (child) {
  // Child: `--send-raw ADDRESS BYTES BATCH MESSAGES MODE`. It ends once ZeroMQ has sent everything
  // (process.exit here could drop the last messages).
  const [bytes, batch, messages] = process.argv.slice(-4, -1).map(Number);
  const mode = process.argv.at(-1);
  const push = new zmq.Push({ sendHighWaterMark: DATA_HWM, linger: 5000 });
  push.connect(values['send-raw'] as string);
  const vec = record(0, bytes).vec;
  const fixed = packr.pack(Array.from({ length: batch }, (_, i) => record(i, bytes, vec)));
  for (let m = 0; m < messages; m++) {
    const body =
      mode === 'bytes'
        ? fixed
        : packr.pack(Array.from({ length: batch }, (_, i) => record(m * batch + i, bytes, vec)));
    await push.send([Buffer.from('b'), body]);
  }
  await push.send([Buffer.from('e')]);
  push.close();
}

const part = values.part === undefined ? null : Number(values.part);
const REPS = Number(values.reps);
const round1 = (x: number): number => Math.round(x * 10) / 10;
const best = (xs: number[]): number => Math.max(...xs);
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const results: Record<string, unknown> = { loadAverage1mAtStart: round1(loadavg()[0]) };

// ───────────────────────────── part 1: scaling ─────────────────────────────

if (!child && (part === null || part === 1)) {
  const records = Number(values.records);
  const rounds = Number(values.rounds);
  // The hashing alone, on this thread (no framework): what one record's preprocess costs.
  const sample = 2_000_000;
  let x = 0;
  const h0 = performance.now();
  for (let i = 0; i < sample; i++) x ^= hash(i, rounds);
  const hashUs = ((performance.now() - h0) * 1000) / sample;
  log(`part 1: hashing alone ${hashUs.toFixed(2)} µs/record (${rounds} rounds; xor ${x})`);

  // The machine's ceiling in this run: the same hashing, no framework, on 1 and then 2 threads
  // at once (other load on the machine shows here first).
  const bare = async (threads: number): Promise<number> => {
    const code = `const { parentPort, workerData: { from, count, rounds } } = require('node:worker_threads');
      const t0 = performance.now(); let x = 0;
      for (let id = from; id < from + count; id++) { let h = id | 0; for (let i = 0; i < rounds; i++) h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i; x ^= h; }
      parentPort.postMessage({ x, ms: performance.now() - t0 });`;
    const t0 = performance.now();
    await Promise.all(
      Array.from(
        { length: threads },
        (_, k) =>
          new Promise((ok, fail) =>
            new Worker(code, {
              eval: true,
              workerData: { from: k * sample, count: sample, rounds },
            })
              .once('message', ok)
              .once('error', fail),
          ),
      ),
    );
    return (threads * sample) / ((performance.now() - t0) / 1000);
  };
  const bare1 = await bare(1);
  const bare2 = await bare(2);
  log(
    `part 1: bare hashing on threads: 1 → ${Math.round(bare1)}/s, 2 → ${Math.round(bare2)}/s (×${(bare2 / bare1).toFixed(2)})`,
  );

  const source = { kind: 'query' as const, sql: `SELECT range AS id FROM range(${records})` };
  const runs: Record<string, { seconds: number; recordsPerSecond: number }> = {};
  for (const numPreprocessors of [1, 2]) {
    const result = await new ThreadStageRunner().run(
      { ...fixtures, export: 'busy' },
      { source, params: { rounds }, numPreprocessors, count: 1, log: () => {} },
    );
    const [out] = result.outputs as { n: number }[];
    if (out.n !== records || result.records.preprocessed !== records)
      throw new Error(`part 1: expected ${records} records, main saw ${out.n}`);
    runs[`preprocessors${numPreprocessors}`] = {
      seconds: Number(result.seconds.toFixed(2)),
      recordsPerSecond: Math.round(records / result.seconds),
    };
    log(
      `part 1: ${numPreprocessors} preprocess thread(s): ${records} records in ${result.seconds.toFixed(2)} s = ${Math.round(records / result.seconds)} records/s`,
    );
  }
  const one = runs.preprocessors1;
  results.scaling = {
    runner: 'threads',
    records,
    rounds,
    hashOnlyMicrosPerRecord: Number(hashUs.toFixed(3)),
    /** The framework's cost per record with one worker, beyond the hashing. */
    overheadMicrosPerRecord: Number((1e6 / one.recordsPerSecond - hashUs).toFixed(3)),
    ...runs,
    speedup: Number((runs.preprocessors2.recordsPerSecond / one.recordsPerSecond).toFixed(2)),
    /** The same hashing without the framework on 2 threads vs 1: what the machine allowed in this run. */
    bareHashingSpeedup: Number((bare2 / bare1).toFixed(2)),
  };
}

// ───────────────────────────── part 2: transport ─────────────────────────────

interface Timed {
  n: number;
  seconds: number;
}

/** Raw PUSH/PULL: a child process sends `messages` batches of `batch` records; this side times them. */
async function raw(
  bytes: number,
  batch: number,
  messages: number,
  mode: 'bytes' | 'msgpack',
): Promise<Timed> {
  const pull = new zmq.Pull({ receiveHighWaterMark: DATA_HWM, linger: 0 });
  await pull.bind('tcp://127.0.0.1:0');
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const child = spawn(
    process.execPath,
    [
      '--import',
      tsx,
      fileURLToPath(import.meta.url),
      '--send-raw',
      pull.lastEndpoint!,
      String(bytes),
      String(batch),
      String(messages),
      mode,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise((ok) => child.once('exit', ok));
  let t0 = 0;
  let n = 0;
  try {
    for (;;) {
      const [kind, body] = await pull.receive();
      if (kind.toString() === 'e') break;
      // Timed from the first record to the last, as main times the stage.
      if (n === 0) t0 = performance.now();
      n += mode === 'msgpack' ? (packr.unpack(body) as unknown[]).length : batch;
    }
  } finally {
    pull.close();
    await exited;
  }
  return { n, seconds: (performance.now() - t0) / 1000 };
}

async function stage(
  bytes: number,
  batch: number,
  n: number,
  exportName: 'transfer' | 'transferBatches',
): Promise<Timed> {
  const result = await new ZmqStageRunner().run(
    { ...fixtures, export: exportName },
    {
      source: { kind: 'records', records: Array.from({ length: n }, (_, id) => ({ id })) },
      params: { bytes },
      numPreprocessors: 1,
      count: 1,
      batchSize: batch,
      log: process.env.BENCH_DEBUG ? log : () => {},
    },
  );
  return (result.outputs as Timed[])[0];
}

if (!child && (part === null || part === 2)) {
  const seconds = Number(values.seconds);
  const transport: Record<string, unknown>[] = [];
  for (const [bytes, batch] of [
    [1024, 1024],
    [65536, 16],
  ] as const) {
    const wire = packr.pack(record(0, bytes)).length;
    const mbps = (t: Timed): number => round1((t.n * wire) / 1e6 / t.seconds);
    // Size the runs: about `seconds` at the raw rate of a short calibration run.
    const calibration = await raw(bytes, batch, Math.ceil(50e6 / (wire * batch)), 'bytes');
    const messages = Math.max(20, Math.ceil((mbps(calibration) * 1e6 * seconds) / (wire * batch)));
    const n = messages * batch;
    log(
      `part 2: ${wire}-byte records, ${batch} a message, ${messages} messages (${Math.round((n * wire) / 1e6)} MB) a run`,
    );
    const runs: Record<'stage' | 'stageBatches' | 'rawBytes' | 'rawMsgpack', number[]> = {
      stage: [],
      stageBatches: [],
      rawBytes: [],
      rawMsgpack: [],
    };
    for (let rep = 0; rep < REPS; rep++) {
      for (const [key, exportName] of [
        ['stage', 'transfer'],
        ['stageBatches', 'transferBatches'],
      ] as const) {
        const s = await stage(bytes, batch, n, exportName);
        if (s.n !== n) throw new Error(`part 2: main saw ${s.n} of ${n} records`);
        runs[key].push(mbps(s));
      }
      runs.rawBytes.push(mbps(await raw(bytes, batch, messages, 'bytes')));
      runs.rawMsgpack.push(mbps(await raw(bytes, batch, messages, 'msgpack')));
      log(
        `part 2:   rep ${rep + 1}: stage ${runs.stage.at(-1)} MB/s, stage with preprocessBatches ${runs.stageBatches.at(-1)} MB/s, raw bytes ${runs.rawBytes.at(-1)} MB/s, raw + msgpack ${runs.rawMsgpack.at(-1)} MB/s`,
      );
    }
    transport.push({
      recordBytes: wire,
      batch,
      messages,
      MBps: runs,
      best: {
        stage: best(runs.stage),
        stageBatches: best(runs.stageBatches),
        rawBytes: best(runs.rawBytes),
        rawMsgpack: best(runs.rawMsgpack),
      },
      stageVsRawBytes: Number((best(runs.stage) / best(runs.rawBytes)).toFixed(2)),
      stageVsRawMsgpack: Number((best(runs.stage) / best(runs.rawMsgpack)).toFixed(2)),
      stageBatchesVsRawBytes: Number((best(runs.stageBatches) / best(runs.rawBytes)).toFixed(2)),
    });
  }
  results.transport = transport;
}

if (!child) {
  results.loadAverage1mAtEnd = round1(loadavg()[0]);
  results.machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
