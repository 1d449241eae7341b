/**
 * The hot loop of {@link ExactVectorIndex}, shared by the main thread and its search threads:
 * score a range of queries against every row in the index's shared WebAssembly memory, keep the
 * best rows of each in a bounded heap, rescore those in float64 and write the answer.
 */

/** The scoring kernels of `src/vectors/wasm/vector-kernel.as.ts`. */
export interface VectorKernelExports {
  dotRows(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
  dotRows4(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
  dotRowsI8(
    f: number,
    c: number,
    rows: number,
    q: number,
    scale: number,
    qScale: number,
    bias: number,
    out: number,
  ): void;
}

/** Queries scored per pass over the rows by `dotRows4`. */
export const BLOCK = 4;

/** Candidates kept beyond k before the float64 rescoring, so float32 rounding never drops a neighbour. */
export const RESCORE_EXTRA = 8;

/** Candidates kept per query when scanning int8 codes: 3k + 16 (their error is ~1% of a score). */
export function int8Candidates(k: number): number {
  return 3 * k + 16;
}

/** Where everything lies in the memory (byte offsets) and what one scan is asked. */
export interface ScanTask {
  dim: number;
  /** Floats per row: dim rounded up to a multiple of 4. */
  stride: number;
  metric: 'cosine' | 'ip' | 'l2';
  /** Rows present. */
  n: number;
  mPtr: number;
  /** −|row|²/2 per row (used for l2). */
  biasPtr: number;
  /** Uint32 key per row. */
  keyPtr: number;
  /** This scanner's own buffers: BLOCK × stride query floats and BLOCK × n scores. */
  qPtr: number;
  outPtr: number;
  k: number;
  /** Bytes per row of int8 codes (a multiple of 16), or 0 to scan the float rows. */
  codeStride: number;
  codePtr: number;
  /** Per row: the f32 scale of its codes. */
  scalePtr: number;
  /** This scanner's int16 query buffer (codeStride halfwords). */
  q16Ptr: number;
}

/** Where a scan writes its answers: row-major `queries × k`, as VectorSearchResult. */
export interface ScanOutput {
  keys: Int32Array | Float64Array;
  scores: Float32Array;
  counts: Uint32Array;
}

/**
 * Answers every query in `queries` (`task.dim` floats each) into `output` (already filled with
 * -1 / NaN). Only keys passing `filter` are answered; the filter is asked only for rows that would
 * enter the heap. `kernel` null scores in plain JavaScript.
 */
export function scanQueries(
  kernel: VectorKernelExports | null,
  buffer: ArrayBufferLike,
  task: ScanTask,
  queries: Float32Array,
  filter: ((key: number) => boolean) | undefined,
  output: ScanOutput,
): void {
  const { dim, stride, metric, n, k } = task;
  if (n === 0) return;
  const m = queries.length / dim;
  const rows = new Float32Array(buffer, task.mPtr, n * stride);
  const bias = new Float32Array(buffer, task.biasPtr, n);
  const rowKey = new Uint32Array(buffer, task.keyPtr, n);
  const query = new Float32Array(buffer, task.qPtr, BLOCK * stride);
  const out = new Float32Array(buffer, task.outPtr, BLOCK * n);
  const l2 = metric === 'l2';
  // Int8 codes are scanned one query at a time by the kernel, keeping more candidates.
  const int8 = task.codeStride > 0 && kernel !== null;
  const cap = Math.min(int8 ? int8Candidates(k) : k + RESCORE_EXTRA, n);
  const q16 = int8 ? new Int16Array(buffer, task.q16Ptr, task.codeStride) : null;
  const heapScore = new Float32Array(cap);
  const heapRow = new Int32Array(cap);
  const exact = new Float64Array(cap);
  const scales = new Float64Array(BLOCK);
  const block = kernel !== null && !int8 ? BLOCK : 1;
  for (let first = 0; first < m; first += block) {
    const group = Math.min(block, m - first);
    // The queries, normalised for cosine, into the kernel's buffer (padding and unused slots zero).
    query.fill(0);
    for (let j = 0; j < group; j++) {
      const qo = (first + j) * dim;
      let qn = 0;
      for (let a = 0; a < dim; a++) qn += queries[qo + a] * queries[qo + a];
      const scale = metric === 'cosine' && qn > 0 ? 1 / Math.sqrt(qn) : 1;
      scales[j] = scale;
      for (let a = 0; a < dim; a++) query[j * stride + a] = queries[qo + a] * scale;
    }
    const biasPtr = l2 ? task.biasPtr : 0;
    // One query: out[r]; a block of queries: out[BLOCK · r + j].
    const step = group === 1 ? 1 : BLOCK;
    if (int8) {
      // The query in int16 steps of its largest magnitude / 127, as the rows' codes are.
      let max = 0;
      for (let a = 0; a < dim; a++) max = Math.max(max, Math.abs(query[a]));
      const qScale = max / 127;
      q16!.fill(0);
      if (max > 0) for (let a = 0; a < dim; a++) q16![a] = Math.round(query[a] / qScale);
      kernel!.dotRowsI8(
        task.codeStride,
        task.codePtr,
        n,
        task.q16Ptr,
        task.scalePtr,
        qScale,
        biasPtr,
        task.outPtr,
      );
    } else if (kernel === null) jsDotRows(rows, stride, n, query, l2 ? bias : null, out);
    else if (group === 1) kernel.dotRows(stride, task.mPtr, n, task.qPtr, biasPtr, task.outPtr);
    else kernel.dotRows4(stride, task.mPtr, n, task.qPtr, biasPtr, task.outPtr);
    for (let j = 0; j < group; j++) {
      // Bounded min-heap of the best `cap` rows by a "higher is closer" score; a row enters only
      // above the threshold (the heap's worst once full), and only then is the filter asked.
      let size = 0;
      let threshold = Number.NEGATIVE_INFINITY;
      for (let r = 0, at = j; r < n; r++, at += step) {
        const s = out[at];
        if (s <= threshold) continue;
        if (filter !== undefined && !filter(rowKey[r])) continue;
        let i: number;
        if (size < cap) {
          i = size++;
          while (i > 0) {
            const parent = (i - 1) >> 1;
            if (heapScore[parent] <= s) break;
            heapScore[i] = heapScore[parent];
            heapRow[i] = heapRow[parent];
            i = parent;
          }
        } else {
          i = 0;
          for (;;) {
            const left = 2 * i + 1;
            if (left >= size) break;
            const right = left + 1;
            const child = right < size && heapScore[right] < heapScore[left] ? right : left;
            if (heapScore[child] >= s) break;
            heapScore[i] = heapScore[child];
            heapRow[i] = heapRow[child];
            i = child;
          }
        }
        heapScore[i] = s;
        heapRow[i] = r;
        if (size === cap) threshold = heapScore[0];
      }
      // Rescore the survivors in float64 and sort them closest first (ties by key).
      const qo = (first + j) * dim;
      for (let h = 0; h < size; h++) {
        const o = heapRow[h] * stride;
        let s = 0;
        if (l2) {
          for (let a = 0; a < dim; a++) {
            const d = rows[o + a] - queries[qo + a];
            s += d * d;
          }
        } else {
          for (let a = 0; a < dim; a++) s += rows[o + a] * queries[qo + a];
          s *= scales[j];
        }
        exact[h] = s;
      }
      for (let h = 1; h < size; h++) {
        const s = exact[h];
        const r = heapRow[h];
        const key = rowKey[r];
        let i = h - 1;
        while (i >= 0) {
          const t = exact[i];
          const before = l2
            ? t < s || (t === s && rowKey[heapRow[i]] < key)
            : t > s || (t === s && rowKey[heapRow[i]] < key);
          if (before) break;
          exact[i + 1] = t;
          heapRow[i + 1] = heapRow[i];
          i--;
        }
        exact[i + 1] = s;
        heapRow[i + 1] = r;
      }
      const q = first + j;
      const answered = Math.min(size, k);
      for (let h = 0; h < answered; h++) {
        output.keys[q * k + h] = rowKey[heapRow[h]];
        output.scores[q * k + h] = exact[h];
      }
      output.counts[q] = answered;
    }
  }
}

/** out[r] = bias[r] + query · row r, in plain JavaScript (when the kernel is not built). */
function jsDotRows(
  rows: Float32Array,
  stride: number,
  n: number,
  query: Float32Array,
  bias: Float32Array | null,
  out: Float32Array,
): void {
  for (let r = 0; r < n; r++) {
    const o = r * stride;
    let s = bias === null ? 0 : bias[r];
    for (let a = 0; a < stride; a++) s += query[a] * rows[o + a];
    out[r] = s;
  }
}
