import { parentPort, workerData } from 'node:worker_threads';
import { runShare, type AlsLayout, type KernelExports, type KernelTask } from './als-wasm.js';

// A kernel thread of AlsWasmEngine: instantiates the kernel on the shared memory once, then
// runs its share of each task it is sent and answers when done.
const { memory, module, layout, slot } = workerData as {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  layout: AlsLayout;
  slot: number;
};
const kernel = new WebAssembly.Instance(module, { env: { memory } })
  .exports as unknown as KernelExports;
parentPort!.on('message', (task: KernelTask) => {
  runShare(kernel, memory, layout, task, slot);
  parentPort!.postMessage('done');
});
