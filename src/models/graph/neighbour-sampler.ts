import type { Random } from '../../core/random.js';
import type { Interactions } from '../../data/interactions.js';

/** What a step's draw depends on: the shares of {@link GraphParams} that sampling reads. */
export interface StepSampling {
  /** Share of a user's items dropped from the input (each with this probability; one is kept). */
  dropout: number;
  /** Softmax targets: every item of the user, or only those dropped from the input. */
  targets: 'all' | 'dropped';
}

/** How many items a drawn step put in each buffer. */
export interface DrawnStep {
  /** First-hop (input) items written to `neighbours[0..n)`. */
  n: number;
  /** Targets written to `targets[0..nt)`. */
  nt: number;
}

/** Fisher–Yates shuffle of `a` in place. */
export function shuffleInPlace(a: Int32Array, rng: Random): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/**
 * Draws one training step's sub-graph of a user whose items are `items` (dense item indices; the
 * array is shuffled in place, so pass a copy): each item dropped from the input with probability
 * `dropout` (at least one kept), at most `neighbours.length` of the kept ones as first hops, the
 * rest (or, with targets `all`, every item) as softmax targets. `targets` must hold
 * `items.length`. The same draws whether a model or a stage calls it, so both sample alike.
 *
 * @example
 * const items = Int32Array.of(4, 8, 15, 16, 23, 42);
 * const { n, nt } = drawStep(items, new Random(1), { dropout: 0.8, targets: 'dropped' },
 *   new Int32Array(25), new Int32Array(items.length));
 */
export function drawStep(
  items: Int32Array,
  rng: Random,
  p: StepSampling,
  neighbours: Int32Array,
  targets: Int32Array,
): DrawnStep {
  const m = items.length;
  shuffleInPlace(items, rng);
  const cap = neighbours.length;
  const dropAll = p.targets === 'all';
  let n = 0;
  let nt = 0;
  for (let x = 0; x < m; x++) {
    const keep = (x === m - 1 && n === 0) || rng.next() >= p.dropout;
    if (keep && n < cap) neighbours[n++] = items[x];
    else if (!dropAll) targets[nt++] = items[x];
  }
  if (dropAll || nt === 0) {
    targets.set(items);
    nt = m;
  }
  return { n, nt };
}

/**
 * Draws training steps of users of an in-memory {@link Interactions} into a network's index
 * buffers (`neighbours`, `targets`, `hops`): {@link drawStep} over the user's items, then
 * `fanout2` second hops per first hop (an item of a random co-user). What `GraphRecommender`
 * trains with; a stage samples its partition's users with {@link drawStep} directly.
 *
 * @example
 * const sampler = new NeighbourSampler(data, net, { dropout: 0.8, targets: 'dropped', fanout2: 0 }, new Random(42));
 * const step = sampler.sample(0); // then net.step(step.n, step.nt, c, step.total)
 */
export class NeighbourSampler {
  private readonly scratch: Int32Array;

  constructor(
    private readonly data: Interactions,
    private readonly buffers: {
      neighbours: Int32Array;
      targets: Int32Array;
      hops: Int32Array;
      shape: { maxTargets: number };
    },
    private readonly p: StepSampling & { fanout2: number },
    private readonly rng: Random,
  ) {
    this.scratch = new Int32Array(buffers.shape.maxTargets);
  }

  /** Fills `out` with second hops of `item`: an item of a random user of `item`, each. */
  secondHops(item: number, out: Int32Array, rng: Random): void {
    const { indptr: ip, indices: users } = this.data.itemUsers;
    const { indptr, indices } = this.data.userItems;
    const len = ip[item + 1] - ip[item];
    for (let s = 0; s < out.length; s++) {
      if (len === 0) {
        out[s] = item;
        continue;
      }
      const v = users[ip[item] + rng.nextInt(len)];
      out[s] = indices[indptr[v] + rng.nextInt(indptr[v + 1] - indptr[v])];
    }
  }

  /** Samples user `u`'s step; null for a user without items. */
  sample(u: number): { n: number; nt: number; total: number } | null {
    const { indptr, indices } = this.data.userItems;
    const m = indptr[u + 1] - indptr[u];
    if (m === 0) return null;
    const items = this.scratch.subarray(0, m);
    items.set(indices.subarray(indptr[u], indptr[u + 1]));
    const { neighbours, targets, hops } = this.buffers;
    const { n, nt } = drawStep(items, this.rng, this.p, neighbours, targets);
    const S2 = this.p.fanout2;
    if (S2 > 0)
      for (let k = 0; k < n; k++)
        this.secondHops(neighbours[k], hops.subarray(k * S2, (k + 1) * S2), this.rng);
    return { n, nt, total: m };
  }
}
