import { parentPort, workerData } from 'node:worker_threads';
import { runSweep, type AlsLayout, type KernelExports, type SweepMessage } from './als-wasm.js';

// A kernel thread of AlsWasmEngine: instantiates the kernel on the shared memory once, then
// runs its share of each sweep it is sent and answers when done.
const { memory, module, layout, slot } = workerData as { memory: WebAssembly.Memory; module: WebAssembly.Module; layout: AlsLayout; slot: number };
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
parentPort!.on('message', (msg: SweepMessage) => {
  runSweep(kernel, memory, layout, msg, slot);
  parentPort!.postMessage('done');
});
