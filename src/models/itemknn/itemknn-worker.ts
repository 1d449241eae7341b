import { parentPort } from 'node:worker_threads';
import { type CosineInput, cosineNeighbourRange } from './cosine-neighbours.js';

// A thread of item-kNN's fit: is sent one range of items over the shared matrices, computes
// their neighbours and posts them back, its buffers transferred.
parentPort!.once(
  'message',
  (job: { input: CosineInput; start: number; end: number; k: number }) => {
    const range = cosineNeighbourRange(job.input, job.start, job.end, job.k);
    parentPort!.postMessage(range, [
      range.indptr.buffer as ArrayBuffer,
      range.ids.buffer as ArrayBuffer,
      range.values.buffer as ArrayBuffer,
    ]);
  },
);
