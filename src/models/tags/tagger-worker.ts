import { parentPort, workerData } from 'node:worker_threads';
import { jsTagKernel, type TagKernelExports } from './tag-kernel.js';
import { SlotRunner, type WorkerJob } from './tagger-training.js';

// A training thread of trainTagMatrices: instantiates the kernel on the shared memory, claims and
// trains chunks of examples until none is left or it is told to stop, then says so.
const { memory, module, layout, slot } = workerData as WorkerJob;
const buffer = memory instanceof SharedArrayBuffer ? memory : memory.buffer;
const kernel =
  module === null
    ? jsTagKernel(buffer)
    : (new WebAssembly.Instance(module, { env: { memory: memory as WebAssembly.Memory } })
        .exports as unknown as TagKernelExports);
const runner = new SlotRunner(kernel, buffer, layout, slot);
while (!runner.step(64));
parentPort!.postMessage('done');
