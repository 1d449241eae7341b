import type { Random } from '../../../src/core/random.js';
import type { Interactions } from '../../../src/data/interactions.js';
import {
  bprEpoch,
  entryRows,
  type BprEpoch,
  type BprState,
} from '../../../src/models/bpr/bpr-kernel.js';
import { BprWasmKernel } from '../../../src/models/bpr/bpr-wasm.js';

/**
 * One rank's share of data-parallel BPR: the users it owns (global index u with u mod size =
 * rank), their rows of the interaction matrix and of the user factors, and a working copy of
 * every item's factors. Epochs run on BPR's own kernels (WebAssembly SIMD when built and the
 * factors divide by 4, unless `kernel` is 'js'), sampling only the owned users, so each user's
 * factors are only ever changed by one rank.
 */
export class BprShard {
  /** Global indices of the owned users, ascending; local row r is user `users[r]`. */
  readonly users: Int32Array;
  /** Triples per epoch, so that each user gets as many draws in expectation as in one process. */
  readonly samples: number;
  readonly #state: BprState;
  readonly #wasm: BprWasmKernel | null;

  constructor(
    data: Interactions,
    args: {
      rank: number;
      size: number;
      factors: number;
      userFactors: Float32Array;
      itemFactors: Float32Array;
      itemBias: Float32Array | null;
      kernel: 'auto' | 'wasm' | 'js';
      sampling: BprEpoch['sampling'];
    },
  ) {
    const { rank, size, factors: f } = args;
    const { indptr, indices } = data.userItems;
    const nUsers = data.users.size;
    const owned: number[] = [];
    for (let u = rank; u < nUsers; u += size) owned.push(u);
    this.users = Int32Array.from(owned);
    const localPtr = new Int32Array(owned.length + 1);
    for (let r = 0; r < owned.length; r++)
      localPtr[r + 1] = localPtr[r] + indptr[owned[r] + 1] - indptr[owned[r]];
    const localIdx = new Int32Array(localPtr[owned.length]);
    const localUsers = new Float32Array(owned.length * f);
    for (let r = 0; r < owned.length; r++) {
      const u = owned[r];
      localIdx.set(indices.subarray(indptr[u], indptr[u + 1]), localPtr[r]);
      localUsers.set(args.userFactors.subarray(u * f, (u + 1) * f), r * f);
    }
    // By user, a process draws data.nnz users uniformly from nUsers; the owner of a share of the
    // users draws the same share of the triples. By interaction, each rank draws its own entries.
    this.samples =
      args.sampling === 'user' ? Math.round((data.nnz * owned.length) / nUsers) : localIdx.length;
    const state: BprState = {
      factors: f,
      nUsers: owned.length,
      nItems: data.items.size,
      indptr: localPtr,
      indices: localIdx,
      rowOf: entryRows(localPtr, owned.length),
      users: localUsers,
      items: Float32Array.from(args.itemFactors),
      itemBias: args.itemBias === null ? null : Float32Array.from(args.itemBias),
    };
    this.#wasm = args.kernel === 'js' || owned.length === 0 ? null : BprWasmKernel.create(state);
    if (this.#wasm === null && args.kernel === 'wasm' && owned.length > 0) {
      throw new Error(
        'the WebAssembly BPR kernel needs factors divisible by 4 and a build ("npm run build:wasm")',
      );
    }
    this.#state = this.#wasm?.state ?? state;
  }

  /** This rank's current item factors (row-major items × factors); valid until the next epoch. */
  get itemFactors(): Float32Array {
    return this.#state.items;
  }

  /** This rank's current item biases, or null without them. */
  get itemBias(): Float32Array | null {
    return this.#state.itemBias;
  }

  /** Replaces the item factors (and biases) with the combined ones before the next epoch. */
  setItems(items: Float32Array, bias: Float32Array | null): void {
    this.#state.items.set(items);
    if (bias !== null) this.#state.itemBias?.set(bias);
  }

  /** Runs one epoch of {@link BprShard.samples} triples; returns the mean loss and triples trained. */
  epoch(e: Omit<BprEpoch, 'samples'>, rng: Random): number {
    if (this.users.length === 0) return 0;
    const epoch = { ...e, samples: this.samples };
    return this.#wasm === null ? bprEpoch(this.#state, epoch, rng) : this.#wasm.epoch(epoch, rng);
  }

  /** Writes the owned users' factor rows into `out` (global layout, users × factors); others untouched. */
  writeUserFactors(out: Float32Array): void {
    const f = this.#state.factors;
    for (let r = 0; r < this.users.length; r++)
      out.set(this.#state.users.subarray(r * f, (r + 1) * f), this.users[r] * f);
  }
}
