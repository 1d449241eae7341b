import type { ReduceOp } from './stage.js';
import type { Collectives } from './roles.js';

/**
 * Collectives among `size` ranks in one thread (the inline runner), and the reduction rule that
 * every transport shares: contributions are summed in rank order, so results are identical on
 * every runner whatever the arrival order.
 */
export class LocalCollectives {
  readonly #size: number;
  readonly #rounds = new Map<
    string,
    {
      parts: unknown[];
      arrived: number;
      done: Promise<unknown>;
      resolve: (v: unknown) => void;
      reject: (e: unknown) => void;
    }
  >();
  readonly #calls: number[];
  #error: unknown = null;

  constructor(size: number) {
    this.#size = size;
    this.#calls = new Array<number>(size).fill(0);
  }

  /** Rejects every pending and later collective: a rank failed, so the others must not wait for it. */
  fail(error: unknown): void {
    this.#error ??= error;
    for (const round of this.#rounds.values()) round.reject(error);
    this.#rounds.clear();
  }

  /** The collectives of one rank. */
  forRank(rank: number): Collectives {
    return {
      allreduce: async <T extends Float32Array | Float64Array>(
        array: T,
        op: ReduceOp = 'sum',
      ): Promise<T> => {
        const parts = (await this.#round(rank, 'allreduce', array)) as T[];
        return reduceInRankOrder(parts, op);
      },
      broadcast: async <T>(value: T, root = 0): Promise<T> => {
        const parts = await this.#round(rank, 'broadcast', value);
        return structuredClone(parts[root]) as T;
      },
      barrier: async () => {
        await this.#round(rank, 'barrier', null);
      },
    };
  }

  async #round(rank: number, kind: string, value: unknown): Promise<unknown[]> {
    if (this.#error !== null) throw this.#error;
    const key = `${kind}#${this.#calls[rank]++}`;
    let round = this.#rounds.get(key);
    if (round === undefined) {
      let resolve: (v: unknown) => void = () => {};
      let reject: (e: unknown) => void = () => {};
      const done = new Promise<unknown>((ok, no) => {
        resolve = ok;
        reject = no;
      });
      done.catch(() => {}); // observed by the awaiting ranks; no unhandled rejection when none waits
      round = { parts: new Array<unknown>(this.#size), arrived: 0, done, resolve, reject };
      this.#rounds.set(key, round);
    }
    round.parts[rank] = value;
    if (++round.arrived === this.#size) {
      this.#rounds.delete(key);
      round.resolve(round.parts);
    }
    return (await round.done) as unknown[];
  }
}

/** Element-wise sum (or mean) of equally long arrays, adding rank 0, then 1, … (deterministic). */
export function reduceInRankOrder<T extends Float32Array | Float64Array>(
  parts: readonly T[],
  op: ReduceOp,
): T {
  const first = parts[0];
  for (const p of parts) {
    if (p.length !== first.length || p.constructor !== first.constructor)
      throw new Error('allreduce: every rank must pass an array of the same type and length');
  }
  // Accumulate in float64 so that the rank order, not the float32 rounding, fixes the result.
  const acc = new Float64Array(first.length);
  for (const p of parts) for (let i = 0; i < acc.length; i++) acc[i] += p[i];
  if (op === 'mean') for (let i = 0; i < acc.length; i++) acc[i] /= parts.length;
  const out = new (first.constructor as { new (n: number): T })(first.length);
  out.set(acc);
  return out;
}
