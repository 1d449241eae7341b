import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { KibanError } from '../../core/errors.js';
import { Random } from '../../core/random.js';
import { startWorker } from '../../core/threads.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';
import type { TagCorpus } from './tag-corpus.js';
import { jsTagKernel, type TagKernelExports } from './tag-kernel.js';

/**
 * Examples per claim of the shared work counter and per kernel call; with several threads, each
 * merges its output-matrix changes into the shared matrix after every chunk.
 */
const CHUNK = 128;
/** How often, at most, onProgress is called (milliseconds). */
const PROGRESS_EVERY_MS = 100;

/** What training needs beyond the corpus (a subset of the tagger's options). */
export interface TrainSettings {
  dim: number;
  epoch: number;
  lr: number;
  loss: 'softmax' | 'ova';
  threads: number;
  seed: number;
  /** `auto` uses the SIMD kernel when it is built and `dim` is a multiple of 4. @defaultValue 'auto' */
  kernel?: 'auto' | 'wasm' | 'js';
}

/** Hooks of a training run. */
export interface TrainHooks {
  /** Called about every 100 ms and once at the end with the fraction done and the mean loss so far. */
  onProgress?: (fraction: number, loss: number) => void;
  signal?: AbortSignal;
}

/** The trained matrices, row-major: input rows × dim and labels × dim. */
export interface TrainedMatrices {
  input: Float32Array;
  output: Float32Array;
  /** Mean loss per example visit over the whole run. */
  loss: number;
  kernel: 'wasm' | 'js';
}

/** Byte offsets of everything the kernel reads and writes in the one shared memory. */
export interface TagLayout {
  dim: number;
  /** Input rows (words, then used buckets). */
  rows: number;
  labels: number;
  ova: boolean;
  threads: number;
  epochs: number;
  lr: number;
  examples: number;
  indptr: number;
  ids: number;
  labelPtr: number;
  labelIds: number;
  input: number;
  /** The shared output matrix (labels × dim floats). */
  output: number;
  /**
   * With several threads: per thread, `outputBytes` apart, a private copy of the output matrix
   * and a snapshot of the shared one as it was at the thread's last merge. 0 with one thread.
   */
  localOutput: number;
  outputSnapshot: number;
  outputBytes: number;
  /** Per thread, `scratchStride` bytes apart: 2·dim + labels floats. */
  scratch: number;
  scratchStride: number;
  /** Per thread: one xorshift32 word (16 bytes apart). */
  rng: number;
  /** Float64 per thread: [examples done, loss sum]. */
  control: number;
  /** Int32 stop flag, then the Int32 counter of chunks claimed. */
  stop: number;
}

/** What a worker thread is started with. */
export interface WorkerJob {
  memory: WebAssembly.Memory | SharedArrayBuffer;
  module: WebAssembly.Module | null;
  layout: TagLayout;
  slot: number;
}

/**
 * Trains the input and output matrices on `corpus` with SGD as fastText does, on `threads`
 * threads sharing one memory without locks (Hogwild!). The examples are visited in order, `epoch`
 * times, in chunks that the threads claim one at a time (see {@link SlotRunner}); the learning
 * rate falls linearly from `lr` to 0 with the run's progress. The main thread is thread 0 and
 * yields to the event loop about every 100 ms, so progress is reported and `signal` is honoured;
 * the others are worker threads.
 *
 * Input rows are updated in place in the shared matrix. Output rows are not: every example
 * updates every output row (all labels get a gradient), so threads writing one shared output
 * matrix fight over its cache lines and two threads ran 1.5–3× slower than one (fastText shows
 * the same stall). With several threads each one therefore trains a private copy of the output
 * matrix and adds its changes to the shared matrix after every chunk of {@link CHUNK} examples,
 * picking up the other threads' changes at the same time; merges take no lock either.
 *
 * Input rows start uniform in ±1/dim (from `seed`), output rows at zero. With one thread the
 * result depends only on the seed; with more it depends on timing, as in fastText.
 *
 * @throws KibanError (code INTERNAL) when aborted, with the signal's reason as its cause.
 */
export async function trainTagMatrices(
  corpus: TagCorpus,
  settings: TrainSettings,
  hooks: TrainHooks = {},
): Promise<TrainedMatrices> {
  const { memory, buffer, module, layout, kernel } = prepareTagTraining(corpus, settings);
  const { dim, threads } = settings;
  const { labels, examples } = layout;
  const control = new Float64Array(buffer, layout.control, threads * 2);
  const stop = new Int32Array(buffer, layout.stop, 1);
  const report = (): { fraction: number; loss: number } => {
    let done = 0;
    let loss = 0;
    for (let t = 0; t < threads; t++) {
      done += control[t * 2];
      loss += control[t * 2 + 1];
    }
    return { fraction: done / (examples * settings.epoch), loss: done === 0 ? 0 : loss / done };
  };

  const workers: Worker[] = [];
  const finished: Promise<void>[] = [];
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  for (let slot = 1; slot < threads; slot++) {
    const job: WorkerJob = { memory, module, layout, slot };
    const worker = startWorker(new URL(`./tagger-worker${ext}`, import.meta.url), {
      workerData: job,
    });
    workers.push(worker);
    finished.push(
      new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', () => resolve());
        worker.once('exit', (code) =>
          reject(
            new KibanError('INTERNAL', `tagger training thread ${slot} exited with code ${code}`),
          ),
        );
      }),
    );
  }
  try {
    const share = new SlotRunner(kernel, buffer, layout, 0);
    let lastReport = performance.now();
    // A worker that fails early must not leave the main thread training alone to the end.
    let failure: unknown = null;
    for (const f of finished) f.catch((e: unknown) => (failure ??= e));
    while (!share.step(1)) {
      if (hooks.signal?.aborted || failure !== null) break;
      if (performance.now() - lastReport >= PROGRESS_EVERY_MS) {
        lastReport = performance.now();
        const r = report();
        hooks.onProgress?.(r.fraction, r.loss);
        await nextTurn();
      }
    }
    if (hooks.signal?.aborted || failure !== null) Atomics.store(stop, 0, 1);
    await Promise.all(finished);
    if (hooks.signal?.aborted)
      throw new KibanError('INTERNAL', 'tagger: training aborted', { cause: hooks.signal.reason });
    const r = report();
    hooks.onProgress?.(1, r.loss);
    return {
      input: new Float32Array(buffer, layout.input, layout.rows * dim).slice(),
      output: new Float32Array(buffer, layout.output, labels * dim).slice(),
      loss: r.loss,
      kernel: module === null ? 'js' : 'wasm',
    };
  } finally {
    Atomics.store(stop, 0, 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Everything a training run shares between its threads, ready for {@link SlotRunner}s. */
export interface TagTrainingState {
  memory: WebAssembly.Memory | SharedArrayBuffer;
  buffer: ArrayBufferLike;
  /** The compiled SIMD kernel, or null when the JavaScript kernel runs. */
  module: WebAssembly.Module | null;
  layout: TagLayout;
  /** The kernel instantiated for the calling thread. */
  kernel: TagKernelExports;
}

/**
 * Lays out and fills the shared memory of a training run: the corpus, input rows uniform in
 * ±1/dim (from `settings.seed`), output rows and every thread's private copy at zero.
 */
export function prepareTagTraining(corpus: TagCorpus, settings: TrainSettings): TagTrainingState {
  const { dim, threads } = settings;
  const labels = corpus.labels.length;
  const rows = corpus.features.words.length + corpus.bucketOfRow.length;
  const examples = corpus.indptr.length - 1;
  const plan = new WasmLayout();
  // Whole cache lines per thread, so that threads never write to the same line of scratch.
  const scratchStride = Math.ceil(((2 * dim + labels) * 4) / 64) * 64;
  const outputBytes = Math.ceil((labels * dim * 4) / 64) * 64;
  const layout: TagLayout = {
    dim,
    rows,
    labels,
    ova: settings.loss === 'ova',
    threads,
    epochs: settings.epoch,
    lr: settings.lr,
    examples,
    indptr: plan.reserve(corpus.indptr.byteLength),
    ids: plan.reserve(corpus.ids.byteLength),
    labelPtr: plan.reserve(corpus.labelPtr.byteLength),
    labelIds: plan.reserve(corpus.labelIds.byteLength),
    input: plan.reserve(rows * dim * 4),
    output: plan.reserve(labels * dim * 4),
    localOutput: threads > 1 ? plan.reserve(threads * outputBytes) : 0,
    outputSnapshot: threads > 1 ? plan.reserve(threads * outputBytes) : 0,
    outputBytes,
    scratch: plan.reserve(threads * scratchStride),
    scratchStride,
    rng: plan.reserve(threads * 16),
    control: plan.reserve(threads * 16),
    stop: plan.reserve(8),
  };
  const wanted = settings.kernel ?? 'auto';
  const module =
    wanted === 'js' || dim % 4 !== 0 || plan.pages > 65536 ? null : loadWasmModule('tag-kernel');
  if (wanted === 'wasm' && module === null) {
    throw new KibanError(
      'INTERNAL',
      'kernel: the WebAssembly kernel is not built (npm run build:wasm) or dim is not a multiple of 4',
    );
  }
  const memory =
    module === null
      ? new SharedArrayBuffer(plan.pages * 65536)
      : new WebAssembly.Memory({ initial: plan.pages, maximum: plan.pages, shared: true });
  const buffer = memory instanceof SharedArrayBuffer ? memory : memory.buffer;
  new Int32Array(buffer, layout.indptr, corpus.indptr.length).set(corpus.indptr);
  new Int32Array(buffer, layout.ids, corpus.ids.length).set(corpus.ids);
  new Int32Array(buffer, layout.labelPtr, corpus.labelPtr.length).set(corpus.labelPtr);
  new Int32Array(buffer, layout.labelIds, corpus.labelIds.length).set(corpus.labelIds);
  const random = new Random(settings.seed);
  const input = new Float32Array(buffer, layout.input, rows * dim);
  for (let i = 0; i < input.length; i++) input[i] = (random.next() * 2 - 1) / dim;
  const rng = new Uint32Array(buffer, layout.rng, threads * 4);
  for (let t = 0; t < threads; t++) rng[t * 4] = random.nextUint32() | 1; // xorshift32 must not start at 0

  const kernel =
    module === null
      ? jsTagKernel(buffer)
      : (new WebAssembly.Instance(module, { env: { memory: memory as WebAssembly.Memory } })
          .exports as unknown as TagKernelExports);
  return { memory, buffer, module, layout, kernel };
}

/**
 * One thread's part in training. Threads claim chunks of {@link CHUNK} consecutive examples from
 * a shared counter that runs over all epochs in order, so the learning rate follows the progress
 * of the whole run (as fastText's shared token count does) and a thread that starts late or is
 * descheduled simply takes fewer chunks. Publishes its own progress into the control block.
 */
export class SlotRunner {
  private readonly control: Float64Array;
  private readonly counters: Int32Array;
  private readonly chunksPerEpoch: number;
  private done = 0;
  private lossSum = 0;

  constructor(
    private readonly kernel: TagKernelExports,
    buffer: ArrayBufferLike,
    private readonly layout: TagLayout,
    private readonly slot: number,
  ) {
    this.control = new Float64Array(buffer, layout.control, layout.threads * 2);
    this.counters = new Int32Array(buffer, layout.stop, 2);
    this.chunksPerEpoch = Math.ceil(layout.examples / CHUNK);
    if (layout.threads > 1) {
      // A thread may start when the others have trained for a while: its private copy must start
      // from the shared matrix as it is now (local = snapshot = 0, so this merge just copies).
      const at = layout.outputBytes * slot;
      kernel.mergeOutput(
        layout.output,
        layout.localOutput + at,
        layout.outputSnapshot + at,
        layout.labels * layout.dim,
      );
    }
  }

  /** Trains on up to `chunks` more chunks; true when no work is left or a stop was requested. */
  step(chunks: number): boolean {
    const L = this.layout;
    const total = L.examples * L.epochs;
    const scratch = L.scratch + this.slot * L.scratchStride;
    const shared = L.threads > 1;
    const output = shared ? L.localOutput + this.slot * L.outputBytes : L.output;
    const snapshot = L.outputSnapshot + this.slot * L.outputBytes;
    for (let c = 0; c < chunks; c++) {
      if (Atomics.load(this.counters, 0) !== 0) return true;
      const chunk = Atomics.add(this.counters, 1, 1);
      if (chunk >= this.chunksPerEpoch * L.epochs) return true;
      const epoch = Math.floor(chunk / this.chunksPerEpoch);
      const begin = (chunk % this.chunksPerEpoch) * CHUNK;
      const end = Math.min(L.examples, begin + CHUNK);
      this.lossSum += this.kernel.trainRange(
        L.dim,
        L.labels,
        L.ova ? 1 : 0,
        L.indptr,
        L.ids,
        L.labelPtr,
        L.labelIds,
        L.input,
        output,
        scratch,
        L.rng + this.slot * 16,
        begin,
        end,
        L.lr,
        epoch * L.examples + begin,
        total,
      );
      if (shared) this.kernel.mergeOutput(L.output, output, snapshot, L.labels * L.dim);
      this.done += end - begin;
      this.control[this.slot * 2] = this.done;
      this.control[this.slot * 2 + 1] = this.lossSum;
    }
    return false;
  }
}
