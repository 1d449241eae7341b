import { z } from 'zod';
import { InvalidArgumentError } from '../../core/errors.js';
import { Random } from '../../core/random.js';
import type { Interactions } from '../../data/interactions.js';
import type { ItemFeatures } from '../../data/item-features.js';
import type { Artifact } from '../artifact.js';
import { FactorModel } from '../factor-model.js';
import type { DenseMatrix, FitOptions, FitReport, UserEmbeddingModel } from '../recommender.js';
import { runIterations } from '../training-loop.js';
import { type GraphAggregator, GraphNetwork } from './graph-network.js';
import { NeighbourSampler, shuffleInPlace } from './neighbour-sampler.js';

/** Hyper-parameters both graph models share (`graphsage` has exactly these). */
export const graphParamsSchema = z
  .object({
    dim: z.int().min(4).max(512).default(64).describe('embedding width (a multiple of 4)'),
    fanout1: z
      .int()
      .min(0)
      .default(0)
      .describe("first-hop neighbours (a user's items) sampled per training step; 0 = all"),
    fanout2: z
      .int()
      .min(0)
      .max(256)
      .default(0)
      .describe('second-hop neighbours (items of co-users) sampled per item; 0 = one layer'),
    epochs: z.int().min(1).default(30).describe('passes over every user'),
    batchSize: z.int().min(1).default(16).describe('users per Adam step'),
    learningRate: z.number().positive().default(0.05).describe('Adam step size'),
    lrDecay: z
      .number()
      .positive()
      .max(1)
      .default(0.9)
      .describe('learning rate multiplied by this after every epoch'),
    weightDecay: z.number().min(0).default(0.3).describe('decoupled weight decay (AdamW)'),
    dropout: z
      .number()
      .min(0)
      .max(0.95)
      .default(0.8)
      .describe("share of a user's items dropped from the input of each training step"),
    targets: z
      .enum(['all', 'dropped'])
      .default('dropped')
      .describe("softmax targets: all the user's items | only those dropped from the input"),
    userScale: z
      .enum(['mean', 'sqrt', 'unit'])
      .default('mean')
      .describe(
        "a user's own term: the mean of its items' vectors | their sum over √count | their sum at unit length",
      ),
    temperature: z
      .number()
      .min(0)
      .default(0)
      .describe('0: score by dot product | τ > 0: by τ·cosine of user and item vectors'),
    lossWeighting: z
      .enum(['user', 'interaction'])
      .default('interaction')
      .describe("each user's loss weighs the same | in proportion to its number of targets"),
    maskInputs: z
      .boolean()
      .default(false)
      .describe("with targets 'dropped': leave the input items out of the softmax"),
    itemBias: z.boolean().default(false).describe('learn a per-item score bias'),
    tied: z
      .boolean()
      .default(true)
      .describe('score with the input item embeddings instead of a separate output table'),
    initStd: z.number().min(0).default(0.05).describe('standard deviation of initial embeddings'),
    featureInitStd: z
      .number()
      .min(0)
      .default(0.05)
      .describe('with item side features: standard deviation of the initial feature projection P'),
    loss: z
      .enum(['softmax', 'sampled'])
      .default('softmax')
      .describe(
        'full softmax over every item | sampled softmax over in-batch, random and hard negatives (logQ-corrected)',
      ),
    negatives: z
      .int()
      .min(0)
      .default(64)
      .describe("with loss 'sampled': uniformly drawn negatives per user"),
    inBatchNegatives: z
      .int()
      .min(0)
      .default(16)
      .describe(
        "with loss 'sampled': targets of each other user of the batch taken as negatives (at most)",
      ),
    hardNegatives: z
      .int()
      .min(0)
      .default(0)
      .describe(
        "with loss 'sampled': the highest-scoring non-target items of a random pool kept as negatives",
      ),
    hardPool: z
      .int()
      .min(0)
      .default(256)
      .describe("with loss 'sampled': the random pool hard negatives are picked from"),
    seed: z.int().default(42).describe('random seed of the initial weights and the sampling'),
  })
  .strict();
export type GraphParams = z.output<typeof graphParamsSchema>;

/** Hyper-parameters of `gat`: the shared ones plus the attention heads. */
export const gatParamsSchema = graphParamsSchema
  .extend({
    attentionInitStd: z
      .number()
      .min(0)
      .default(0)
      .describe(
        'standard deviation of the initial attention vectors (0: attention starts uniform)',
      ),
    heads: z
      .int()
      .min(1)
      .max(16)
      .default(4)
      .describe('attention heads (dim/heads a multiple of 4)'),
  })
  .strict();
export type GatParams = z.output<typeof gatParamsSchema>;

/**
 * A graph neural network recommender over the user–item graph (GraphSAGE or GAT, see
 * {@link GraphNetwork}): items have learned embeddings, users have none and are embedded from
 * their items, so {@link GraphRecommender.embedUsers} gives any user, also one not trained on,
 * a vector without retraining. Training minimises the full softmax cross-entropy of each user's
 * items over all items (Adam, mini-batches of users), the input being the user's items with a
 * share `dropout` of them dropped (denoising). Scores are u·qⱼ + bⱼ with the output item vectors
 * q ({@link GraphRecommender.itemFactors}); similar items are their cosine. Single-threaded,
 * deterministic for a seed; needs the WebAssembly kernel (`npm run build:wasm`).
 *
 * The defaults were tuned on a validation split carved from the MovieLens training data (nDCG@10
 * there: ALS 0.175, these 0.167 (mean) and 0.152 (attention), a plain setting 0.12). What mattered,
 * in order: a large learning rate that decays (0.05, ×0.9 per epoch) with small batches (16
 * users) and AdamW weight decay 0.3; targets = the items dropped from the input, with 80% dropped
 * (the model learns to predict a user's other items from a few); one item table for input and
 * output (tied); each user's loss weighted by its number of targets; no item bias. Second hops
 * (`fanout2`), cosine scores, a √n or unit-length user term and a wider table (128) all measured
 * worse there, so the defaults leave the item layer out (`fanout2` 0): set it to use both layers.
 *
 * Item side features ({@link FitOptions.itemFeatures}, e.g. from `readItemFeatures`) make every
 * item's input xᵢ = Eᵢ + P·fᵢ with a learned projection P; a saved model keeps x itself, so
 * serving needs no feature table. `loss: 'sampled'` replaces the full softmax by a sampled one
 * (in-batch, uniform and hard negatives, logQ-corrected), the loss that scales to millions of
 * items. On the validation split (bench/gnn-tune.ts, graphsage, 2026-12-07) neither beat the
 * defaults: MovieLens genres as features 0.161 (P initialised at 0.05; 0.155–0.160 at 0 or 0.01,
 * with or without item bias; untied tables 0.157 with and without; values × 0.3: 0.165) against
 * 0.167 without (gat: 0.150 with, 0.152 without); the
 * sampled softmax 0.141 with 256 uniform and 16 in-batch negatives per other user, 0.145 with 16
 * hard negatives of a 256 pool, 0.157 with 1,024 uniform and 64 hard of a 1,024 pool (0.155 with
 * 64 in-batch per other user besides). So both stay opt-in.
 */
export abstract class GraphRecommender<P extends GraphParams>
  extends FactorModel<P>
  implements UserEmbeddingModel
{
  protected abstract readonly aggregator: GraphAggregator;
  private net: GraphNetwork | undefined;

  /** Standard deviation of the initial attention vectors (unused by the mean aggregator). */
  protected get attentionInitStd(): number {
    return 0;
  }

  /** The attention heads (1 for the mean aggregator). */
  protected get heads(): number {
    return 1;
  }

  private build(data: Interactions, features?: ItemFeatures): GraphNetwork {
    const p = this.params;
    const sampled = p.loss === 'sampled';
    const { indptr } = data.userItems;
    let maxDegree = 1;
    for (let u = 0; u < data.users.size; u++)
      maxDegree = Math.max(maxDegree, indptr[u + 1] - indptr[u]);
    const net = GraphNetwork.create(
      {
        aggregator: this.aggregator,
        dim: p.dim,
        heads: this.heads,
        nItems: data.items.size,
        maxNeighbours: p.fanout1 === 0 ? maxDegree : Math.min(p.fanout1, maxDegree),
        fanout2: p.fanout2,
        maxTargets: maxDegree,
        maxEmbedItems: Math.max(maxDegree, 1024),
        tied: p.tied,
        userScale: p.userScale,
        temperature: p.temperature,
        itemBias: p.itemBias,
        maskInputs: p.maskInputs && p.targets === 'dropped',
        maxNegatives: sampled
          ? Math.max(1, p.negatives + p.inBatchNegatives * (p.batchSize - 1))
          : 0,
        hardNegatives: sampled ? p.hardNegatives : 0,
        maxHardPool: sampled && p.hardNegatives > 0 ? p.hardPool : 0,
      },
      features,
    );
    if (net === null)
      throw new InvalidArgumentError(
        `${this.kind}.kernel`,
        'the graph models need the WebAssembly kernel: run "npm run build:wasm"',
      );
    return net;
  }

  protected override async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    const p = this.params;
    const features = options.itemFeatures;
    if (features !== undefined && features.indptr.length !== data.items.size + 1)
      throw new InvalidArgumentError(
        'itemFeatures',
        `has ${features.indptr.length - 1} rows, the training data ${data.items.size} items (align them to its item ids)`,
      );
    const net = this.build(data, features);
    const rng = new Random(p.seed);
    const d = p.dim;
    const init = (name: 'E' | 'Q' | 'W1' | 'W2' | 'al1' | 'ar1' | 'al2' | 'ar2', std: number) =>
      rng.fillGaussian(net.param(name), std);
    init('E', p.initStd);
    if (!p.tied) init('Q', p.initStd);
    init('W1', 0.5 / Math.sqrt(d));
    init('W2', 0.5 / Math.sqrt(d));
    for (const name of ['al1', 'ar1', 'al2', 'ar2'] as const) init(name, this.attentionInitStd);
    rng.fillGaussian(net.param('P'), p.featureInitStd);
    net.refreshInputs();
    const sampler = new NeighbourSampler(data, net, p, rng);
    const nUsers = data.users.size;
    // Targets a user has on average: 'interaction' weighting scales each user's term by its own
    // count over this, so the step size stays that of 'user' weighting.
    const meanTargets = (p.targets === 'all' ? 1 : p.dropout) * (data.nnz / Math.max(1, nUsers));
    const order = new Int32Array(nUsers);
    for (let u = 0; u < nUsers; u++) order[u] = u;
    const negatives = p.loss === 'sampled' ? new NegativeSampler(data, net, sampler, p, rng) : null;
    const report = await runIterations(this.kind, p.epochs, options, (epoch) => {
      shuffleInPlace(order, rng);
      const lr = p.learningRate * p.lrDecay ** epoch;
      let lossSum = 0;
      let terms = 0;
      for (let start = 0; start < nUsers; start += p.batchSize) {
        const end = Math.min(nUsers, start + p.batchSize);
        const c = 1 / (end - start);
        if (negatives !== null) {
          for (const s of negatives.batch(order.subarray(start, end))) {
            const w = p.lossWeighting === 'user' ? 1 : s.nt / meanTargets;
            lossSum += net.step(s.n, s.nt, c * w, s.total, s.nNeg, s.nPool);
            terms++;
          }
        } else {
          for (let b = start; b < end; b++) {
            const sampled = sampler.sample(order[b]);
            if (sampled === null) continue;
            const w = p.lossWeighting === 'user' ? 1 : sampled.nt / meanTargets;
            lossSum += net.step(sampled.n, sampled.nt, c * w, sampled.total);
            terms++;
          }
        }
        net.adam(lr, p.weightDecay);
      }
      return terms === 0 ? 0 : lossSum / terms;
    });
    // Serving: every item's layer-1 output from one fixed sample of its second hops.
    const frozen = new Random(p.seed ^ 0x5bd1e995);
    net.freezeItems((item, out) => sampler.secondHops(item, out, frozen));
    this.net = net;
    this.install(data);
    return report;
  }

  /** Embeds every training user from all their items and installs the factors to score with. */
  private install(data: Interactions): void {
    const net = this.net!;
    const d = this.params.dim;
    const { indptr, indices } = data.userItems;
    const users = new Float32Array(data.users.size * d);
    for (let u = 0; u < data.users.size; u++)
      net.embed(indices.subarray(indptr[u], indptr[u + 1]), users, u * d);
    const nItems = data.items.size;
    this.setFactors(
      { rows: data.users.size, cols: d, data: users },
      { rows: nItems, cols: d, data: net.outputItems() },
      net.param('bias').subarray(0, nItems),
    );
  }

  /**
   * The vectors of users given by the items they interacted with (dense item indices of
   * `data.items`, in any order; a user with none gets the zero vector), one row per list, in the
   * space of {@link GraphRecommender.itemFactors}: score item j as the row's dot product with
   * item j's vector plus its bias. Needs no retraining; a user need not be in the training data.
   * A list longer than the longest training user's (or 1024) uses its last items.
   * @throws NotFittedError before `fit` or `load`; InvalidArgumentError for an index out of range.
   */
  embedUsers(interactions: readonly ArrayLike<number>[]): DenseMatrix {
    const nItems = this.data.items.size; // throws NotFittedError before fit or load
    const d = this.params.dim;
    const out = new Float32Array(interactions.length * d);
    for (let r = 0; r < interactions.length; r++) {
      const items = interactions[r];
      for (let x = 0; x < items.length; x++) {
        const i = items[x];
        if (!Number.isInteger(i) || i < 0 || i >= nItems)
          throw new InvalidArgumentError(
            'interactions',
            `item index ${i} is outside 0..${nItems - 1}`,
          );
      }
      this.net!.embed(items, out, r * d);
    }
    return { rows: interactions.length, cols: d, data: out };
  }

  /** The per-item score bias the scores add (learned with the softmax; float32, one per item). */
  itemBiases(): Float32Array {
    const nItems = this.data.items.size;
    return this.net!.param('bias').subarray(0, nItems);
  }

  protected restoreGraph(artifact: Artifact & { data: Interactions }): void {
    const net = this.build(artifact.data);
    // Saved folded (item inputs x = E + P·f as E), so a network without features restores it.
    net.params.set(artifact.arrays['graph.params'] as Float32Array);
    net.itemHidden.set(artifact.arrays['graph.itemHidden'] as Float32Array);
    this.net = net;
    this.restore(artifact.data);
    this.install(artifact.data);
  }

  protected override artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    const { arrays, extra } = super.artifactContent();
    return {
      arrays: {
        ...arrays,
        'graph.params': this.net!.foldedParams(),
        'graph.itemHidden': this.net!.itemHidden,
      },
      extra,
    };
  }
}

/** One user's step of a batch, drawn ahead so that the other users' targets can be negatives. */
interface BatchStep {
  n: number;
  nt: number;
  total: number;
  nNeg: number;
  nPool: number;
}

/**
 * The negatives of the sampled softmax: for each user of a batch, up to `inBatchNegatives`
 * targets of every other user of the batch (in-batch negatives, drawn about in proportion to item
 * popularity), `negatives` uniform draws and a uniform pool of `hardPool` for the network's hard
 * negatives. Each candidate j's logit is corrected by log of its expected count in the step's
 * sample, M·popⱼ + (R + H)/N (M in-batch negatives, popⱼ its share of the interactions, R uniform
 * draws, H hard negatives, N items): the logQ correction, so the sampled softmax estimates the
 * full one.
 */
class NegativeSampler {
  private readonly pop: Float64Array;
  private readonly saved: {
    neighbours: Int32Array[];
    targets: Int32Array[];
    hops: Int32Array[];
  };
  private readonly nItems: number;

  constructor(
    data: Interactions,
    private readonly net: GraphNetwork,
    private readonly sampler: NeighbourSampler,
    private readonly p: GraphParams,
    private readonly rng: Random,
  ) {
    this.nItems = data.items.size;
    const { indptr } = data.itemUsers;
    this.pop = new Float64Array(this.nItems);
    for (let j = 0; j < this.nItems; j++)
      this.pop[j] = (indptr[j + 1] - indptr[j]) / Math.max(1, data.nnz);
    this.saved = { neighbours: [], targets: [], hops: [] };
  }

  /** Draws every user of `users`, then yields each one's step with the net's buffers filled. */
  *batch(users: Int32Array): Generator<BatchStep> {
    const { net, p, rng, saved } = this;
    const drawn: { n: number; nt: number; total: number; slot: number }[] = [];
    for (let b = 0; b < users.length; b++) {
      const s = this.sampler.sample(users[b]);
      if (s === null) continue;
      const slot = drawn.length;
      if (saved.neighbours.length <= slot) {
        saved.neighbours.push(new Int32Array(net.neighbours.length));
        saved.targets.push(new Int32Array(net.targets.length));
        saved.hops.push(new Int32Array(net.hops.length));
      }
      saved.neighbours[slot].set(net.neighbours.subarray(0, s.n));
      saved.targets[slot].set(net.targets.subarray(0, s.nt));
      if (p.fanout2 > 0) saved.hops[slot].set(net.hops.subarray(0, s.n * p.fanout2));
      drawn.push({ ...s, slot });
    }
    const N = this.nItems;
    const hard = p.hardNegatives;
    const pool = hard > 0 ? p.hardPool : 0;
    const negs = net.negatives;
    const logQ = net.negativeLogQ;
    for (const s of drawn) {
      net.neighbours.set(saved.neighbours[s.slot].subarray(0, s.n));
      net.targets.set(saved.targets[s.slot].subarray(0, s.nt));
      if (p.fanout2 > 0) net.hops.set(saved.hops[s.slot].subarray(0, s.n * p.fanout2));
      let m = 0;
      for (const o of drawn) {
        if (o === s) continue;
        const take = Math.min(o.nt, p.inBatchNegatives);
        negs.set(saved.targets[o.slot].subarray(0, take), m);
        m += take;
      }
      const inBatch = m;
      for (let r = 0; r < p.negatives; r++) negs[m++] = rng.nextInt(N);
      const nNeg = m;
      for (let r = 0; r < pool; r++) negs[m++] = rng.nextInt(N);
      const uniform = (p.negatives + Math.min(hard, pool)) / N;
      for (let x = 0; x < m; x++) logQ[x] = Math.log(inBatch * this.pop[negs[x]] + uniform);
      yield { n: s.n, nt: s.nt, total: s.total, nNeg, nPool: pool };
    }
  }
}
