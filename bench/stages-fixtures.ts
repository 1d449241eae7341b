/**
 * Stages for bench/stages.ts, loaded by module path and export name in worker threads and
 * worker processes (so they live in a module of their own).
 */
import { defineStage } from '../src/stages/stage.js';

/** `rounds` of integer hashing of `id` (Math.imul/xor/shift, about 2–3 ns a round). */
export function hash(id: number, rounds: number): number {
  let h = id | 0;
  for (let i = 0; i < rounds; i++) h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i;
  return h;
}

/**
 * CPU-bound preprocess: hashes each id for `params.rounds` rounds and yields the hash (a number,
 * so that shipping it to main costs little); main counts the hashes and xors them together.
 */
export const busy = defineStage({
  name: 'bench-busy',
  async *preprocess(rows: AsyncIterable<{ id: number | bigint }>, ctx) {
    const rounds = Number(ctx.params.rounds);
    for await (const row of rows) yield hash(Number(row.id), rounds);
  },
  async main(hashes: AsyncIterable<number>) {
    let n = 0;
    let x = 0;
    for await (const h of hashes) {
      n++;
      x ^= h;
    }
    return [{ n, x }];
  },
});

const NAME = 'x'.repeat(200);

/**
 * A record of about `bytes` bytes once packed: `{ id, name: 200 chars, vec: Float32Array }` up to
 * 2 KB, `{ id, vec: Float32Array }` above.
 */
export function record(
  id: number,
  bytes: number,
  vec?: Float32Array,
): { id: number; name?: string; vec: Float32Array } {
  if (bytes <= 2048)
    return {
      id,
      name: NAME,
      vec: vec ?? new Float32Array(Math.max(1, (bytes - 230) >> 2)).fill(0.5),
    };
  return { id, vec: vec ?? new Float32Array(bytes >> 2).fill(0.5) };
}

/**
 * Transport: preprocess turns each id into a record of about `params.bytes` bytes (a new record
 * object each time, over one shared, never-written Float32Array, so that building records costs
 * next to nothing); main counts records and times the span from the first to the last. Sharing
 * one array across yielded records bends the stage contract (a yielded array is the stage's):
 * harmless on the ZeroMQ runner, which only reads it, but do not run this stage on threads.
 */
export const transfer = defineStage({
  name: 'bench-transfer',
  async *preprocess(rows: AsyncIterable<{ id: number }>, ctx) {
    const bytes = Number(ctx.params.bytes);
    const vec = record(0, bytes).vec;
    for await (const row of rows) yield record(row.id, bytes, vec);
  },
  async main(records: AsyncIterable<unknown>) {
    let n = 0;
    let t0 = 0;
    for await (const _ of records) if (n++ === 0) t0 = performance.now();
    return [{ n, seconds: (performance.now() - t0) / 1000 }];
  },
});

/**
 * {@link transfer} with a batch-level preprocess (`preprocessBatches`): each batch of ids becomes
 * one batch of records, so no per-record async generator step remains on the preprocess side.
 */
export const transferBatches = defineStage({
  name: 'bench-transfer-batches',
  async *preprocessBatches(batches: AsyncIterable<{ id: number }[]>, ctx) {
    const bytes = Number(ctx.params.bytes);
    const vec = record(0, bytes).vec;
    for await (const rows of batches) {
      const out = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) out[i] = record(rows[i].id, bytes, vec);
      yield out;
    }
  },
  main: transfer.main,
});
