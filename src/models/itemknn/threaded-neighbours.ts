/**
 * Item-kNN's neighbour computation on every core: items split into contiguous ranges of equal
 * work, one per thread (the calling thread takes the first), over matrices shared without copies.
 */
import { startWorker } from '../../core/threads.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import {
  type CosineInput,
  type NeighbourRange,
  cosineNeighbourRange,
  itemNorms,
  rowWork,
  splitByWork,
  stitchRanges,
} from './cosine-neighbours.js';

/** Multiply-adds below which threads cost more to start than they save. */
export const MIN_WORK_FOR_THREADS = 5e7;

/** A typed array's contents in a SharedArrayBuffer, so workers read it without a copy. */
function shared<T extends Int32Array | Float32Array>(a: T): T {
  const copy = new (a.constructor as new (b: SharedArrayBuffer) => T)(
    new SharedArrayBuffer(a.byteLength),
  );
  copy.set(a);
  return copy;
}

/**
 * For each item (row of `itemUsers`), the `k` items with the highest cosine similarity. With
 * `threads` > 1 (and enough work), ranges run on worker threads; the result does not depend on
 * the thread count.
 */
export async function cosineNeighbours(
  userItems: CsrMatrix,
  itemUsers: CsrMatrix,
  k: number,
  threads: number,
): Promise<CsrMatrix> {
  const n = itemUsers.rows;
  const plain: CosineInput = {
    userIndptr: userItems.indptr,
    userIndices: userItems.indices,
    userValues: userItems.values,
    itemIndptr: itemUsers.indptr,
    itemIndices: itemUsers.indices,
    itemValues: itemUsers.values,
    norms: itemNorms(itemUsers.indptr, itemUsers.values),
  };
  const work = rowWork(plain);
  let total = 0;
  for (let i = 0; i < n; i++) total += work[i];
  const bounds = splitByWork(work, threads > 1 && total >= MIN_WORK_FOR_THREADS ? threads : 1);
  let ranges: NeighbourRange[];
  if (bounds.length <= 2) ranges = [cosineNeighbourRange(plain, 0, n, k)];
  else {
    // Workers start first, so that their start-up overlaps the copies into shared memory.
    const url = new URL(
      `./itemknn-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`,
      import.meta.url,
    );
    const workers = bounds.slice(2).map(() => startWorker(url));
    const input: CosineInput = {
      userIndptr: shared(plain.userIndptr),
      userIndices: shared(plain.userIndices),
      userValues: shared(plain.userValues),
      itemIndptr: shared(plain.itemIndptr),
      itemIndices: shared(plain.itemIndices),
      itemValues: shared(plain.itemValues),
      norms: shared(plain.norms),
    };
    const others = workers.map(
      (worker, p) =>
        new Promise<NeighbourRange>((done, fail) => {
          worker.once('message', (range: NeighbourRange) => {
            done(range);
            void worker.terminate();
          });
          worker.once('error', fail);
          worker.once('exit', (code) => {
            if (code !== 0) fail(new Error(`item-kNN worker exited with code ${code}`));
          });
          worker.postMessage({ input, start: bounds[p + 1], end: bounds[p + 2], k });
        }),
    );
    try {
      const first = cosineNeighbourRange(input, 0, bounds[1], k);
      ranges = [first, ...(await Promise.all(others))];
    } finally {
      for (const worker of workers) void worker.terminate();
    }
  }
  const { indptr, ids, values } = stitchRanges(ranges, n);
  return new CsrMatrix(n, n, indptr, ids, values);
}
