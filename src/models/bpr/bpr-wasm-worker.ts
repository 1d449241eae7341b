import { parentPort, workerData } from 'node:worker_threads';
import { type BprKernelExports, type BprOffsets, type BprShare, runBprShare } from './bpr-wasm.js';

// A Hogwild thread of BprWasmKernel: instantiates the kernel on the shared memory once, then runs
// each share of an epoch it is sent and answers with its summed loss.
const { memory, module, at, shape } = workerData as {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  at: BprOffsets;
  shape: { factors: number; nItems: number };
};
const kernel = new WebAssembly.Instance(module, { env: { memory } })
  .exports as unknown as BprKernelExports;
parentPort!.on('message', (share: BprShare) => {
  parentPort!.postMessage(runBprShare(kernel, shape, at, share));
});
