import { parentPort, workerData } from 'node:worker_threads';
import { type ScanTask, scanQueries, type VectorKernelExports } from './exact-scan.js';

/** What ExactVectorIndex sends a search thread: the scan and its share of the queries. */
export interface SearchThreadTask {
  /** The index's shared memory (the kernel is instantiated on it per task: microseconds). */
  memory: WebAssembly.Memory;
  task: ScanTask;
  queries: Float32Array;
  /** Whether keys may reach 2^31 (then Float64Array keys). */
  wideKeys: boolean;
}

// A search thread shared by every ExactVectorIndex of the process: answers each share of queries
// it is sent, in order, on the sending index's shared memory, transferring the result arrays back.
const { module } = workerData as { module: WebAssembly.Module };
parentPort!.on('message', ({ memory, task, queries, wideKeys }: SearchThreadTask) => {
  const kernel = new WebAssembly.Instance(module, { env: { memory } })
    .exports as unknown as VectorKernelExports;
  const m = queries.length / task.dim;
  const keys = wideKeys ? new Float64Array(m * task.k) : new Int32Array(m * task.k);
  const scores = new Float32Array(m * task.k);
  const counts = new Uint32Array(m);
  keys.fill(-1);
  scores.fill(Number.NaN);
  scanQueries(kernel, memory.buffer, task, queries, undefined, { keys, scores, counts });
  parentPort!.postMessage({ keys, scores, counts }, [keys.buffer, scores.buffer, counts.buffer]);
});
