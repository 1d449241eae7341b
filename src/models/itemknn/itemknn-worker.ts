import { parentPort, workerData } from 'node:worker_threads';
import { type CosineInput, cosineNeighbourRange } from './cosine-neighbours.js';

// A thread of item-kNN's fit: computes one range of items' neighbours over the shared matrices
// and posts it back, its buffers transferred.
const { input, start, end, k } = workerData as {
  input: CosineInput;
  start: number;
  end: number;
  k: number;
};
const range = cosineNeighbourRange(input, start, end, k);
parentPort!.postMessage(range, [
  range.indptr.buffer as ArrayBuffer,
  range.ids.buffer as ArrayBuffer,
  range.values.buffer as ArrayBuffer,
]);
