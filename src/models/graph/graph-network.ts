import { InvalidArgumentError } from '../../core/errors.js';
import { loadWasmModule, WasmLayout } from '../../core/wasm.js';

/** How a node combines its sampled neighbours: their mean (GraphSAGE) or multi-head attention (GAT). */
export type GraphAggregator = 'mean' | 'attention';

/** The shape of a {@link GraphNetwork}. */
export interface GraphNetworkShape {
  aggregator: GraphAggregator;
  /** Embedding width; a multiple of 4 and of `heads`. */
  dim: number;
  /** Attention heads (attention only; 1 for mean); `dim / heads` must be a multiple of 4. */
  heads: number;
  nItems: number;
  /** Most first-hop neighbours (items of a user) one training step takes. */
  maxNeighbours: number;
  /** Second-hop neighbours sampled per first-hop item (S2); 0 leaves layer 1 out. */
  fanout2: number;
  /** Most targets (items of a user) of one loss term. */
  maxTargets: number;
  /** Most items of one list {@link GraphNetwork.embed} uses at once. */
  maxEmbedItems: number;
  /**
   * The user's own term q = s(n)·Σ hᵢ over its n items: the mean (s = 1/n) or, as Mult-DAE
   * normalises its input, s = 1/√n, so users with more items get longer vectors (surer scores);
   * or `unit`: Σ hᵢ scaled to length 1, whatever the number of items (so the same in training,
   * where items are dropped, as in serving).
   */
  userScale: 'mean' | 'sqrt' | 'unit';
  /**
   * 0: score sⱼ = u·Qⱼ + bⱼ; above 0: the cosine scaled by this temperature, sⱼ = τ·cos(u, Qⱼ) + bⱼ.
   */
  temperature: number;
  /**
   * Whether the softmax leaves out the step's first-hop items (for targets disjoint from them;
   * a target among them would get probability 0).
   */
  maskInputs: boolean;
  /** Whether scores add a learned per-item bias (else it stays 0). */
  itemBias: boolean;
  /** Whether the output item vectors are the input embeddings (tied) or their own table. */
  tied: boolean;
  /**
   * Above 0: {@link GraphNetwork.step} trains by sampled softmax over the targets and at most
   * this many negatives of the caller's ({@link GraphNetwork.negatives}, with their log expected
   * counts in {@link GraphNetwork.negativeLogQ}), plus the hard negatives it picks; 0 (the
   * default): full softmax over every item.
   */
  maxNegatives?: number;
  /**
   * With a sampled softmax: how many hard negatives a step keeps, the highest-scoring
   * non-target items of the caller's candidate pool (after the negatives in
   * {@link GraphNetwork.negatives}). @defaultValue 0
   */
  hardNegatives?: number;
  /** With a sampled softmax: the most pool candidates a step scores for hard negatives. @defaultValue 0 */
  maxHardPool?: number;
}

/**
 * Side features of the items, as a {@link GraphNetwork} takes them: row i of a CSR matrix (dense
 * item index × feature) holds item i's nonzero features; an item without any gets only its
 * embedding.
 */
export interface ItemFeatureRows {
  /** Number of feature columns. */
  nFeatures: number;
  /** `nItems + 1` offsets into `indices`/`values`. */
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/** The learned tensors, in the order they sit in the parameter block. */
export const GRAPH_PARAMS = [
  'E',
  'Q',
  'bias',
  'W1',
  'b1',
  'W2',
  'b2',
  'al1',
  'ar1',
  'al2',
  'ar2',
  'P',
] as const;
export type GraphParamName = (typeof GRAPH_PARAMS)[number];

interface Kernel {
  dotRows(f: number, m: number, rows: number, q: number, bias: number, out: number): void;
  cosineRows(
    f: number,
    m: number,
    rows: number,
    un: number,
    bias: number,
    tau: number,
    norms: number,
    cos: number,
    out: number,
  ): void;
  cosineRowsBackward(
    f: number,
    m: number,
    rows: number,
    g: number,
    un: number,
    tau: number,
    norms: number,
    cos: number,
    c: number,
    dm: number,
    dun: number,
  ): void;
  softmaxXent(n: number, s: number, targets: number, nt: number): number;
  dotRowsBackward(
    f: number,
    m: number,
    rows: number,
    g: number,
    u: number,
    c: number,
    dm: number,
    du: number,
  ): void;
  gatherSum(f: number, m: number, idx: number, w: number, c: number, n: number, out: number): void;
  scatterAdd(f: number, dm: number, idx: number, w: number, c: number, n: number, g: number): void;
  gatherDots(f: number, m: number, idx: number, n: number, v: number, out: number): void;
  matVec(rows: number, cols: number, w: number, x: number, b: number, out: number): void;
  matVecBackward(
    rows: number,
    cols: number,
    w: number,
    x: number,
    g: number,
    c: number,
    dw: number,
    db: number,
    dx: number,
  ): void;
  adam(
    n: number,
    p: number,
    g: number,
    m: number,
    v: number,
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    bc2: number,
    wd: number,
  ): void;
  axpyN(n: number, c: number, x: number, out: number): void;
}

/** Slope of LeakyReLU on attention logits (as in GAT). */
const LEAKY = 0.2;
const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

/** A float32 region of kernel memory: its byte offset and a view of it. */
interface Region {
  at: number;
  v: Float32Array;
}

/**
 * The two-layer graph network of the `graphsage` and `gat` models, its forward and backward pass
 * by hand on float32 arrays in one WebAssembly memory, the dense work on the SIMD kernel
 * (`build/wasm/graph-kernel.wasm`).
 *
 * A user has no parameters: for a user with sampled items N (first hop) the network computes
 * - layer 1, per item i ∈ N: hᵢ = Eᵢ + ReLU(W1·aᵢ + b1), aᵢ the aggregate of the input embeddings
 *   E of i's S2 sampled second-hop items (items of sampled co-users of i);
 * - layer 2, the user: z = aggregate of {hᵢ}, u = W2·z + b2 + mean{hᵢ};
 * - scores sⱼ = u·Qⱼ + biasⱼ over every item, trained by full softmax cross-entropy.
 * The mean aggregator averages; the attention one has `heads` heads, head k weighting the
 * neighbours by softmax(LeakyReLU(alₖ·self + arₖ·neighbour)) and owning rows k·dim/heads… of W.
 * For the user the "self" is the mean of its items' hᵢ.
 *
 * With item side features f (a sparse row per item), every item's input is xᵢ = Eᵢ + P·fᵢ
 * (P learned, a row of `dim` values per feature), and x replaces E everywhere E is read (the
 * aggregates, the residuals, and the tied output table). The inputs are cached: after writing
 * parameters directly, call {@link GraphNetwork.refreshInputs} ({@link GraphNetwork.adam} does).
 * The gradient of P follows from E's at {@link GraphNetwork.finishGradients} (Adam calls it).
 */
export class GraphNetwork {
  readonly shape: Readonly<GraphNetworkShape>;
  /** Float offsets of each tensor inside the parameter block (and the gradient, moment blocks). */
  readonly offsets: Record<GraphParamName, number>;
  readonly sizes: Record<GraphParamName, number>;
  /** All parameters, one block (Adam updates it in one call). */
  readonly params: Float32Array;
  /** Gradients, laid out as `params`. */
  readonly grads: Float32Array;
  /** First-hop items of the current step (dense item indices), `maxNeighbours` long. */
  readonly neighbours: Int32Array;
  /** Second-hop items, `fanout2` per first-hop item. */
  readonly hops: Int32Array;
  /** Targets of the current loss term. */
  readonly targets: Int32Array;
  /** Layer-1 outputs h of every item (its sampled neighbourhood fixed), after {@link GraphNetwork.freezeItems}. */
  readonly itemHidden: Float32Array;
  private readonly k: Kernel;
  private readonly buf: ArrayBuffer;
  private readonly base: { p: number; g: number; m: number; v: number };
  private readonly r: Record<string, Region>;
  private readonly at: { neighbours: number; hops: number; targets: number; iota: number };
  private readonly embedIdx: Int32Array;
  private readonly savedPre: Float32Array;
  private readonly embedIdxAt: number;
  private adamStep = 0;
  /** Byte offset of the item inputs x (E itself without features). */
  private readonly xAt: number;
  /** The item inputs x in JavaScript: `xv[xo + i·dim …]` is item i's. */
  private readonly xv: Float32Array;
  private readonly xo: number;
  private readonly features: {
    indptr: Int32Array;
    idxAt: number;
    valAt: number;
  } | null;
  /** Candidates of a sampled-softmax step: targets, negatives, hard negatives. */
  private readonly candAt: number;
  private readonly cand: Int32Array;
  /** Item indices of the caller's negatives, then its hard-negative pool. */
  readonly negatives: Int32Array;
  /** log of each negative's (and pool candidate's) expected count in the step's sample. */
  readonly negativeLogQ: Float32Array;
  private readonly negAt: number;
  private readonly stamp: Int32Array;
  private readonly candLogQ: Float32Array;
  private stampNow = 0;

  private constructor(
    shape: GraphNetworkShape,
    module: WebAssembly.Module,
    features: ItemFeatureRows | undefined,
  ) {
    this.shape = Object.freeze({ ...shape });
    const { dim: d, heads: H, nItems, maxNeighbours: N, fanout2: S2 } = shape;
    const nF = features?.nFeatures ?? 0;
    const nnzF = features === undefined ? 0 : features.indptr[nItems];
    const maxNeg = shape.maxNegatives ?? 0;
    const hard = maxNeg > 0 ? (shape.hardNegatives ?? 0) : 0;
    const pool = maxNeg > 0 ? (shape.maxHardPool ?? 0) : 0;
    const maxCand = shape.maxTargets + maxNeg + hard;
    const sizes = {
      E: nItems * d,
      Q: shape.tied ? 0 : nItems * d,
      bias: pad4(nItems),
      W1: d * d,
      b1: d,
      W2: d * d,
      b2: d,
      al1: H * d,
      ar1: H * d,
      al2: H * d,
      ar2: H * d,
      P: nF * d,
    };
    const offsets = {} as Record<GraphParamName, number>;
    let total = 0;
    for (const name of GRAPH_PARAMS) {
      offsets[name] = total;
      total += sizes[name];
    }
    if (shape.tied) offsets.Q = offsets.E;
    this.sizes = sizes;
    this.offsets = offsets;
    const plan = new WasmLayout();
    const bytes = total * 4;
    this.base = {
      p: plan.reserve(bytes),
      g: plan.reserve(bytes),
      m: plan.reserve(bytes),
      v: plan.reserve(bytes),
    };
    const f32 = (n: number): number => plan.reserve(pad4(n) * 4);
    const sizesOf: Record<string, number> = {
      A: N * H * d, // layer-1 aggregates (per head for attention)
      T: N * d, // layer-1 pre-activations
      Hn: N * d, // layer-1 outputs
      dHn: N * d,
      pre1: N * H * Math.max(S2, 1),
      alpha1: N * H * Math.max(S2, 1),
      pre2: H * Math.max(N, shape.maxEmbedItems),
      alpha2: H * Math.max(N, shape.maxEmbedItems),
      M2: H * d,
      dM: H * d,
      q: d,
      dq: d,
      u: d,
      du: d,
      z: d,
      dt: d,
      dA: d,
      tmp: d,
      dAlpha: Math.max(N, S2, shape.maxEmbedItems),
      scores: nItems,
      norms: nItems,
      cos: nItems,
      un: d,
      dun: d,
      hidden: nItems * d,
      X: features === undefined ? 0 : nItems * d,
      fVal: nnzF,
      candScores: maxCand + pool,
    };
    const regionAt: Record<string, number> = {};
    for (const [name, n] of Object.entries(sizesOf)) regionAt[name] = f32(n);
    this.at = {
      neighbours: plan.reserve(N * 4),
      hops: plan.reserve(N * Math.max(S2, 1) * 4),
      targets: plan.reserve(shape.maxTargets * 4),
      iota: plan.reserve(Math.max(N, shape.maxEmbedItems, shape.maxTargets) * 4),
    };
    const fIdxAt = plan.reserve(nnzF * 4);
    this.candAt = plan.reserve(maxCand * 4);
    this.negAt = plan.reserve((maxNeg + pool) * 4);
    this.embedIdxAt = plan.reserve(shape.maxEmbedItems * 4);
    if (plan.pages > 65536)
      throw new InvalidArgumentError('dim', 'the graph model does not fit in 4 GiB of memory');
    const memory = new WebAssembly.Memory({
      initial: plan.pages,
      maximum: plan.pages,
      shared: true,
    });
    this.k = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Kernel;
    this.buf = memory.buffer as unknown as ArrayBuffer;
    this.params = new Float32Array(this.buf, this.base.p, total);
    this.grads = new Float32Array(this.buf, this.base.g, total);
    this.r = {};
    for (const [name, n] of Object.entries(sizesOf))
      this.r[name] = { at: regionAt[name], v: new Float32Array(this.buf, regionAt[name], n) };
    this.neighbours = new Int32Array(this.buf, this.at.neighbours, N);
    this.hops = new Int32Array(this.buf, this.at.hops, N * Math.max(S2, 1));
    this.targets = new Int32Array(this.buf, this.at.targets, shape.maxTargets);
    const iota = new Int32Array(
      this.buf,
      this.at.iota,
      Math.max(N, shape.maxEmbedItems, shape.maxTargets),
    );
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    this.embedIdx = new Int32Array(this.buf, this.embedIdxAt, shape.maxEmbedItems);
    this.itemHidden = this.r.hidden.v;
    this.savedPre = new Float32Array(Math.max(N, S2, shape.maxEmbedItems));
    this.cand = new Int32Array(this.buf, this.candAt, maxCand);
    this.negatives = new Int32Array(this.buf, this.negAt, maxNeg + pool);
    this.negativeLogQ = new Float32Array(maxNeg + pool);
    this.stamp = new Int32Array(maxNeg > 0 ? nItems : 0);
    this.candLogQ = new Float32Array(maxCand);
    if (features === undefined) {
      this.features = null;
      this.xAt = this.base.p + offsets.E * 4;
      this.xv = this.params;
      this.xo = offsets.E;
    } else {
      new Int32Array(this.buf, fIdxAt, nnzF).set(features.indices.subarray(0, nnzF));
      this.r.fVal.v.set(features.values.subarray(0, nnzF));
      this.features = {
        indptr: Int32Array.from(features.indptr.subarray(0, nItems + 1)),
        idxAt: fIdxAt,
        valAt: this.r.fVal.at,
      };
      this.xAt = this.r.X.at;
      this.xv = this.r.X.v;
      this.xo = 0;
    }
  }

  /** Whether the items have side features (inputs x = E + P·f). */
  get hasFeatures(): boolean {
    return this.features !== null;
  }

  /** Byte offset of the output item table: Q, or the inputs x when tied. */
  private qAt(): number {
    return this.shape.tied ? this.xAt : this.p('Q');
  }

  /**
   * Recomputes every item's input xᵢ = Eᵢ + P·fᵢ from the parameters (nothing to do without
   * features). Call it after writing E or P directly; {@link GraphNetwork.adam} calls it.
   */
  refreshInputs(): void {
    const f = this.features;
    if (f === null) return;
    const d = this.shape.dim;
    const P = this.p('P');
    const E = this.p('E');
    for (let i = 0; i < this.shape.nItems; i++) {
      const from = f.indptr[i];
      const x = this.xAt + i * d * 4;
      this.k.gatherSum(d, P, f.idxAt + from * 4, f.valAt + from * 4, 0, f.indptr[i + 1] - from, x);
      this.k.axpyN(d, 1, E + i * d * 4, x);
    }
  }

  /**
   * Completes the accumulated gradients: P's from the inputs' (∂loss/∂Pₖ = Σᵢ fᵢₖ·∂loss/∂xᵢ, and
   * ∂loss/∂xᵢ is E's gradient). Overwrites P's gradient, so calling it twice is harmless;
   * {@link GraphNetwork.adam} calls it (after an allreduce of the gradients is fine too).
   */
  finishGradients(): void {
    const f = this.features;
    if (f === null) return;
    const d = this.shape.dim;
    this.grad('P').fill(0);
    const gP = this.g('P');
    const gE = this.g('E');
    for (let i = 0; i < this.shape.nItems; i++) {
      const from = f.indptr[i];
      const n = f.indptr[i + 1] - from;
      if (n > 0)
        this.k.scatterAdd(d, gP, f.idxAt + from * 4, f.valAt + from * 4, 1, n, gE + i * d * 4);
    }
  }

  /**
   * The parameter block as a network of the same shape without features would hold it: E
   * replaced by the inputs x = E + P·f, P left out. What a saved model keeps: serving needs x only.
   */
  foldedParams(): Float32Array {
    const out = this.params.slice(0, this.offsets.P);
    if (this.features !== null)
      out.set(this.xv.subarray(0, this.shape.nItems * this.shape.dim), this.offsets.E);
    return out;
  }

  /**
   * A network of `shape`, parameters zero; null when the kernel is not built. With
   * `itemFeatures`, item inputs are E + P·f (see the class).
   */
  static create(shape: GraphNetworkShape, itemFeatures?: ItemFeatureRows): GraphNetwork | null {
    const { dim, heads } = shape;
    if (itemFeatures !== undefined && itemFeatures.indptr.length < shape.nItems + 1)
      throw new InvalidArgumentError(
        'itemFeatures',
        `has ${itemFeatures.indptr.length - 1} rows, the network ${shape.nItems} items`,
      );
    if ((shape.maxNegatives ?? 0) > 0 && shape.temperature > 0)
      throw new InvalidArgumentError(
        'temperature',
        'the sampled softmax scores by dot product: set temperature 0',
      );
    if (dim % 4 !== 0 || dim % heads !== 0 || (dim / heads) % 4 !== 0)
      throw new InvalidArgumentError(
        'dim',
        `must be a multiple of 4·heads (heads ${heads}), got ${dim}`,
      );
    const module = loadWasmModule('graph-kernel');
    return module === null ? null : new GraphNetwork(shape, module, itemFeatures);
  }

  /** A view of one tensor of the parameter block. */
  param(name: GraphParamName): Float32Array {
    return this.params.subarray(this.offsets[name], this.offsets[name] + this.sizes[name]);
  }

  /** A view of one tensor's gradient. */
  grad(name: GraphParamName): Float32Array {
    return this.grads.subarray(this.offsets[name], this.offsets[name] + this.sizes[name]);
  }

  private p(name: GraphParamName): number {
    return this.base.p + this.offsets[name] * 4;
  }

  private g(name: GraphParamName): number {
    return this.base.g + this.offsets[name] * 4;
  }

  /**
   * Layer 1 for the first-hop items `neighbours[0..n)` (their second hops in `hops`): fills rows of
   * A, T and Hn (and the attention weights).
   */
  private layer1(n: number): void {
    const { dim: d, heads: H, fanout2: S2, aggregator } = this.shape;
    const { A, T, Hn, pre1, alpha1 } = this.r;
    const dh = d / H;
    const E = this.xAt;
    for (let k = 0; k < n; k++) {
      const i = this.neighbours[k];
      const hn = Hn.at + k * d * 4;
      if (S2 === 0) {
        this.k.gatherSum(d, E, this.at.neighbours + k * 4, 0, 1, 1, hn);
        continue;
      }
      const hops = this.at.hops + k * S2 * 4;
      const t = T.at + k * d * 4;
      if (aggregator === 'mean') {
        const a = A.at + k * d * 4;
        this.k.gatherSum(d, E, hops, 0, 1 / S2, S2, a);
        this.k.matVec(d, d, this.p('W1'), a, this.p('b1'), t);
      } else {
        const selfRow = E + i * d * 4;
        for (let h = 0; h < H; h++) {
          const o = (k * H + h) * S2;
          this.k.gatherDots(d, E, hops, S2, this.p('ar1') + h * d * 4, pre1.at + o * 4);
          const self = dotAt(this.buf, selfRow, this.p('al1') + h * d * 4, d);
          softmaxLeaky(pre1.v, alpha1.v, o, S2, self);
          const a = A.at + (k * H + h) * d * 4;
          this.k.gatherSum(d, E, hops, alpha1.at + o * 4, 0, S2, a);
          this.k.matVec(
            dh,
            d,
            this.p('W1') + h * dh * d * 4,
            a,
            this.p('b1') + h * dh * 4,
            t + h * dh * 4,
          );
        }
      }
      const tv = T.v;
      const hv = Hn.v;
      const ev = this.xv;
      const eo = this.xo + i * d;
      for (let x = 0; x < d; x++) {
        const tx = tv[k * d + x];
        hv[k * d + x] = ev[eo + x] + Math.max(tx, 0);
      }
    }
  }

  /**
   * The factor on Σ hᵢ over n sampled items of a user who has `total`: s(total)·total/n, so that
   * q estimates, without bias, what serving computes from all `total` items.
   */
  private userScale(n: number, total: number): number {
    const scale = this.shape.userScale;
    if (scale === 'unit') return 1;
    return (scale === 'mean' ? 1 / total : 1 / Math.sqrt(total)) * (total / n);
  }

  /** ‖Σ hᵢ‖ of the last layer-2 forward pass, under the `unit` user scale. */
  private qNorm = 0;

  /**
   * Layer 2 over `n` rows of item representations at byte offset `rows` (gathered through the
   * index list at `idx`): writes u. Keeps q, z/M2 and the attention weights for the backward pass.
   */
  private layer2(rows: number, idx: number, n: number, total: number): void {
    const { dim: d, heads: H, aggregator } = this.shape;
    const { q, z, u, M2, pre2, alpha2 } = this.r;
    const dh = d / H;
    this.k.gatherSum(d, rows, idx, 0, this.userScale(n, total), n, q.at);
    if (this.shape.userScale === 'unit') this.qNorm = this.unit(q.v, q.v);
    if (aggregator === 'mean') {
      this.k.matVec(d, d, this.p('W2'), q.at, this.p('b2'), u.at);
      z.v.set(q.v);
    } else {
      for (let h = 0; h < H; h++) {
        const o = h * n;
        this.k.gatherDots(d, rows, idx, n, this.p('ar2') + h * d * 4, pre2.at + o * 4);
        const self = dotAt(this.buf, q.at, this.p('al2') + h * d * 4, d);
        softmaxLeaky(pre2.v, alpha2.v, o, n, self);
        this.k.gatherSum(d, rows, idx, alpha2.at + o * 4, 0, n, M2.at + h * d * 4);
        this.k.matVec(
          dh,
          d,
          this.p('W2') + h * dh * d * 4,
          M2.at + h * d * 4,
          this.p('b2') + h * dh * 4,
          u.at + h * dh * 4,
        );
      }
    }
    const uv = u.v;
    const qv = q.v;
    for (let x = 0; x < d; x++) uv[x] += qv[x];
  }

  /**
   * One loss term: forward for the user whose first hops are `neighbours[0..n)` (second hops in
   * `hops`), full softmax cross-entropy against `targets[0..nt)`, and the backward pass adding
   * c·∂loss/∂θ into {@link GraphNetwork.grads}. Returns the loss. `total` is the number of items
   * the user has, of which the n first hops are a sample (see the user scale). With a sampled
   * softmax (`maxNegatives` above 0), the softmax runs over the targets, `negatives[0..nNeg)` and
   * the best `hardNegatives` of the pool `negatives[nNeg..nNeg+nPool)` instead of every item.
   */
  step(n: number, nt: number, c: number, total = n, nNeg = 0, nPool = 0): number {
    const { dim: d, heads: H, fanout2: S2, nItems, aggregator } = this.shape;
    const { A, T, Hn, dHn, pre1, alpha1, pre2, alpha2, M2, dM, q, dq, u, du, z, dt, dA, tmp } =
      this.r;
    const scores = this.r.scores;
    const dh = d / H;
    const k = this.k;
    this.layer1(n);
    this.layer2(Hn.at, this.at.iota, n, total);
    const tau = this.shape.temperature;
    const { norms, cos, un, dun } = this.r;
    let uNorm = 0;
    let loss: number;
    const sampled = (this.shape.maxNegatives ?? 0) > 0;
    if (sampled) {
      loss = this.sampledSoftmax(n, nt, c, nNeg, nPool);
    } else {
      if (tau > 0) {
        uNorm = this.unit(u.v, un.v);
        k.cosineRows(
          d,
          this.qAt(),
          nItems,
          un.at,
          this.p('bias'),
          tau,
          norms.at,
          cos.at,
          scores.at,
        );
      } else {
        k.dotRows(d, this.qAt(), nItems, u.at, this.p('bias'), scores.at);
      }
      if (this.shape.maskInputs) {
        // The input items are known positives, not rivals of the targets: out of the softmax.
        const sv = scores.v;
        for (let x = 0; x < n; x++) sv[this.neighbours[x]] = Number.NEGATIVE_INFINITY;
      }
      loss = k.softmaxXent(nItems, scores.at, this.at.targets, nt);
      // Output layer and loss.
      // The scores' padding past nItems stays 0, so the bias gradient is one whole-lane call.
      if (this.shape.itemBias) k.axpyN(pad4(nItems), c, scores.at, this.g('bias'));
    }
    if (sampled) {
      // du was written by the sampled softmax.
    } else if (tau > 0) {
      du.v.fill(0);
      dun.v.fill(0);
      k.cosineRowsBackward(
        d,
        this.qAt(),
        nItems,
        scores.at,
        un.at,
        tau,
        norms.at,
        cos.at,
        c,
        this.g('Q'),
        dun.at,
      );
      // Through u/‖u‖: du = (dun − un·(un·dun)) / ‖u‖.
      if (uNorm > 0) {
        let along = 0;
        for (let x = 0; x < d; x++) along += un.v[x] * dun.v[x];
        for (let x = 0; x < d; x++) du.v[x] = (dun.v[x] - along * un.v[x]) / uNorm;
      }
    } else {
      du.v.fill(0);
      k.dotRowsBackward(d, this.qAt(), nItems, scores.at, u.at, c, this.g('Q'), du.at);
    }

    // Layer 2.
    dq.v.set(du.v); // the residual mean{hᵢ}
    dHn.v.fill(0, 0, n * d);
    if (aggregator === 'mean') {
      k.matVecBackward(d, d, this.p('W2'), z.at, du.at, c, this.g('W2'), this.g('b2'), dq.at);
    } else {
      dM.v.fill(0);
      for (let h = 0; h < H; h++) {
        const o = h * n;
        const dm = dM.at + h * d * 4;
        k.matVecBackward(
          dh,
          d,
          this.p('W2') + h * dh * d * 4,
          M2.at + h * d * 4,
          du.at + h * dh * 4,
          c,
          this.g('W2') + h * dh * d * 4,
          this.g('b2') + h * dh * 4,
          dm,
        );
        // h_k gets α_k·dm directly, and through the logits below.
        k.scatterAdd(d, dHn.at, this.at.iota, alpha2.at + o * 4, 1, n, dm);
        const sum = this.attentionBackward(Hn.at, this.at.iota, n, dm, pre2, alpha2, o);
        // Σ dpre · al2 goes to q; Σ dpre·h_k to ar2; dpre_k·ar2 to h_k.
        addScaled(this.grads, this.offsets.al2 + h * d, q.v, 0, c * sum, d);
        addScaled(dq.v, 0, this.params, this.offsets.al2 + h * d, sum, d);
        k.gatherSum(d, Hn.at, this.at.iota, pre2.at + o * 4, 0, n, tmp.at);
        addScaled(this.grads, this.offsets.ar2 + h * d, tmp.v, 0, c, d);
        k.scatterAdd(d, dHn.at, this.at.iota, pre2.at + o * 4, 1, n, this.p('ar2') + h * d * 4);
      }
    }
    if (this.shape.userScale === 'unit') {
      // Through q = s/‖s‖: ds = (dq − q·(q·dq)) / ‖s‖.
      const qv = q.v;
      const g = dq.v;
      let along = 0;
      for (let x = 0; x < d; x++) along += qv[x] * g[x];
      for (let x = 0; x < d; x++) g[x] = this.qNorm > 0 ? (g[x] - along * qv[x]) / this.qNorm : 0;
    }
    k.scatterAdd(d, dHn.at, this.at.iota, 0, this.userScale(n, total), n, dq.at);

    // Layer 1.
    const E = this.xAt;
    const gE = this.g('E');
    for (let kk = 0; kk < n; kk++) {
      const i = this.neighbours[kk];
      const dhn = dHn.at + kk * d * 4;
      k.scatterAdd(d, gE, this.at.neighbours + kk * 4, 0, c, 1, dhn);
      if (S2 === 0) continue;
      const hops = this.at.hops + kk * S2 * 4;
      for (let x = 0; x < d; x++) dt.v[x] = T.v[kk * d + x] > 0 ? dHn.v[kk * d + x] : 0;
      if (aggregator === 'mean') {
        dA.v.fill(0);
        k.matVecBackward(
          d,
          d,
          this.p('W1'),
          A.at + kk * d * 4,
          dt.at,
          c,
          this.g('W1'),
          this.g('b1'),
          dA.at,
        );
        k.scatterAdd(d, gE, hops, 0, c / S2, S2, dA.at);
      } else {
        for (let h = 0; h < H; h++) {
          const o = (kk * H + h) * S2;
          dA.v.fill(0);
          k.matVecBackward(
            dh,
            d,
            this.p('W1') + h * dh * d * 4,
            A.at + (kk * H + h) * d * 4,
            dt.at + h * dh * 4,
            c,
            this.g('W1') + h * dh * d * 4,
            this.g('b1') + h * dh * 4,
            dA.at,
          );
          k.scatterAdd(d, gE, hops, alpha1.at + o * 4, c, S2, dA.at);
          const sum = this.attentionBackward(E, hops, S2, dA.at, pre1, alpha1, o);
          addScaled(this.grads, this.offsets.al1 + h * d, this.xv, this.xo + i * d, c * sum, d);
          addScaled(
            this.grads,
            this.offsets.E + i * d,
            this.params,
            this.offsets.al1 + h * d,
            c * sum,
            d,
          );
          k.gatherSum(d, E, hops, pre1.at + o * 4, 0, S2, tmp.at);
          addScaled(this.grads, this.offsets.ar1 + h * d, tmp.v, 0, c, d);
          k.scatterAdd(d, gE, hops, pre1.at + o * 4, c, S2, this.p('ar1') + h * d * 4);
        }
      }
    }
    return loss;
  }

  /**
   * Backward of out = Σₛ αₛ·m[idx[s]], α = softmax(LeakyReLU(pre)), through α and the logits:
   * given dOut (byte offset), overwrites `pre[o..o+n)` with ∂/∂pre and returns their sum (the
   * gradient of the self term every logit shares).
   */
  private attentionBackward(
    rows: number,
    idx: number,
    n: number,
    dOut: number,
    pre: Region,
    alpha: Region,
    o: number,
  ): number {
    const saved = this.savedPre;
    const dAlpha = this.r.dAlpha;
    for (let s = 0; s < n; s++) saved[s] = pre.v[o + s];
    this.k.gatherDots(this.shape.dim, rows, idx, n, dOut, dAlpha.at);
    const a = alpha.v;
    const da = dAlpha.v;
    let dot = 0;
    for (let s = 0; s < n; s++) dot += a[o + s] * da[s];
    let sum = 0;
    for (let s = 0; s < n; s++) {
      const dl = a[o + s] * (da[s] - dot);
      const g = saved[s] > 0 ? dl : LEAKY * dl;
      pre.v[o + s] = g;
      sum += g;
    }
    return sum;
  }

  /** Writes v/‖v‖ to `out` (zeros for the zero vector) and returns ‖v‖. */
  private unit(v: Float32Array, out: Float32Array): number {
    let ss = 0;
    for (let x = 0; x < v.length; x++) ss += v[x] * v[x];
    const n = Math.sqrt(ss);
    for (let x = 0; x < v.length; x++) out[x] = n > 0 ? v[x] / n : 0;
    return n;
  }

  /**
   * The item vectors users are scored against, `nItems × dim`: Q, or with a temperature the rows
   * of Q scaled to unit length (a copy).
   */
  outputItems(): Float32Array {
    const Q = this.shape.tied
      ? this.xv.subarray(this.xo, this.xo + this.shape.nItems * this.shape.dim)
      : this.params.subarray(this.offsets.Q, this.offsets.Q + this.shape.nItems * this.shape.dim);
    if (this.shape.temperature === 0) return Q;
    const d = this.shape.dim;
    const out = new Float32Array(Q.length);
    for (let j = 0; j < this.shape.nItems; j++)
      this.unit(Q.subarray(j * d, (j + 1) * d), out.subarray(j * d, (j + 1) * d));
    return out;
  }

  /** One Adam step with the gradients accumulated since the last one, which it zeroes. */
  adam(lr: number, weightDecay: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): void {
    this.finishGradients();
    const t = ++this.adamStep;
    const n = this.params.length;
    this.k.adam(
      n,
      this.base.p,
      this.base.g,
      this.base.m,
      this.base.v,
      lr / (1 - beta1 ** t),
      beta1,
      beta2,
      eps,
      1 / Math.sqrt(1 - beta2 ** t),
      lr * weightDecay,
    );
    this.refreshInputs();
  }

  /**
   * The sampled softmax of a step, after the forward pass wrote u: candidates are the targets,
   * the caller's `negatives[0..nNeg)` and the `hardNegatives` highest-scoring of the pool
   * `negatives[nNeg..nNeg+nPool)` that are not targets; each negative's logit is corrected by
   * minus its log expected count in the sample (`negativeLogQ`, the logQ correction), and a
   * negative that is a target (or, with `maskInputs`, an input) is left out (an accidental hit).
   * Adds the output layer's gradients, writes ∂loss/∂u to du and returns the loss.
   */
  private sampledSoftmax(n: number, nt: number, c: number, nNeg: number, nPool: number): number {
    const { dim: d, maskInputs, itemBias } = this.shape;
    const maxNeg = this.shape.maxNegatives ?? 0;
    if (nNeg > maxNeg || nPool > this.negatives.length - maxNeg)
      throw new InvalidArgumentError(
        'negatives',
        `${nNeg} negatives and a pool of ${nPool} exceed the network's ${maxNeg} and ${this.negatives.length - maxNeg}`,
      );
    const { u, du, candScores } = this.r;
    const k = this.k;
    const cand = this.cand;
    const sv = candScores.v;
    const logQ = this.negativeLogQ;
    const stamp = this.stamp;
    if (++this.stampNow === 0x7fffffff) {
      stamp.fill(0);
      this.stampNow = 1;
    }
    const st = this.stampNow;
    for (let t = 0; t < nt; t++) stamp[this.targets[t]] = st;
    if (maskInputs) for (let x = 0; x < n; x++) stamp[this.neighbours[x]] = st;
    cand.set(this.targets.subarray(0, nt));
    const candLogQ = this.candLogQ;
    let m = nt;
    for (let s = 0; s < nNeg; s++) {
      const j = this.negatives[s];
      cand[m] = j;
      candLogQ[m] = stamp[j] === st ? Number.POSITIVE_INFINITY : logQ[s];
      m++;
    }
    const hard = Math.min(this.shape.hardNegatives ?? 0, nPool);
    if (hard > 0) {
      const poolAt = candScores.at + cand.length * 4;
      const ps = sv.subarray(cand.length, cand.length + nPool);
      k.gatherDots(d, this.qAt(), this.negAt + nNeg * 4, nPool, u.at, poolAt);
      for (let h = 0; h < hard; h++) {
        let best = -1;
        for (let s = 0; s < nPool; s++)
          if (stamp[this.negatives[nNeg + s]] !== st && (best < 0 || ps[s] > ps[best])) best = s;
        if (best < 0) break;
        const j = this.negatives[nNeg + best];
        stamp[j] = st; // not twice
        cand[m] = j;
        candLogQ[m] = logQ[nNeg + best];
        m++;
      }
    }
    k.gatherDots(d, this.qAt(), this.candAt, m, u.at, candScores.at);
    const bias = this.params;
    const bo = this.offsets.bias;
    for (let s = 0; s < m; s++) {
      sv[s] += bias[bo + cand[s]];
      if (s >= nt) sv[s] -= candLogQ[s];
    }
    // The targets sit first: candidate positions 0..nt are their indices.
    const loss = k.softmaxXent(m, candScores.at, this.at.iota, nt);
    if (itemBias) for (let s = 0; s < m; s++) this.grads[bo + cand[s]] += c * sv[s];
    k.scatterAdd(d, this.g('Q'), this.candAt, candScores.at, c, m, u.at);
    k.gatherSum(d, this.qAt(), this.candAt, candScores.at, 0, m, du.at);
    return loss;
  }

  /**
   * Fixes every item's layer-1 output: item i's row of {@link GraphNetwork.itemHidden} from the
   * second hops `hopsOf(i, out)` writes (`fanout2` of them). Serving and `embed` read these rows.
   * Overwrites the step buffers ({@link GraphNetwork.neighbours}, {@link GraphNetwork.hops}).
   */
  freezeItems(hopsOf: (item: number, out: Int32Array) => void): void {
    const { dim: d, nItems, fanout2: S2 } = this.shape;
    const row = S2 === 0 ? this.hops : this.hops.subarray(0, S2);
    for (let i = 0; i < nItems; i++) {
      this.neighbours[0] = i;
      if (S2 > 0) hopsOf(i, row);
      this.layer1(1);
      this.itemHidden.set(this.r.Hn.v.subarray(0, d), i * d);
    }
  }

  /**
   * The vector of a user who interacted with `items` (dense indices; at most `maxEmbedItems`, the
   * last ones are used beyond that), from the frozen item rows, into `out` at `offset`: the
   * vector whose dot product with {@link GraphNetwork.outputItems} row j plus bias j scores item j.
   * An empty list gives the zero vector.
   */
  embed(items: ArrayLike<number>, out: Float32Array, offset: number): void {
    const { dim: d, maxEmbedItems } = this.shape;
    const from = Math.max(0, items.length - maxEmbedItems);
    const n = items.length - from;
    if (n === 0) {
      out.fill(0, offset, offset + d);
      return;
    }
    for (let x = 0; x < n; x++) this.embedIdx[x] = items[from + x];
    this.layer2(this.r.hidden.at, this.embedIdxAt, n, n);
    const tau = this.shape.temperature;
    if (tau === 0) {
      out.set(this.r.u.v, offset);
      return;
    }
    const un = this.r.un.v;
    this.unit(this.r.u.v, un);
    for (let x = 0; x < d; x++) out[offset + x] = tau * un[x];
  }
}

/** Σ a[k]·b[k] over two float32 vectors of kernel memory at byte offsets `a` and `b`. */
function dotAt(buf: ArrayBuffer, a: number, b: number, d: number): number {
  const va = new Float32Array(buf, a, d);
  const vb = new Float32Array(buf, b, d);
  let s = 0;
  for (let x = 0; x < d; x++) s += va[x] * vb[x];
  return s;
}

/**
 * In place over `pre[o..o+n)` (neighbour logits without the self term): adds `self`, keeps the
 * raw logits in `pre`, writes softmax(LeakyReLU(·)) to `alpha`.
 */
function softmaxLeaky(
  pre: Float32Array,
  alpha: Float32Array,
  o: number,
  n: number,
  self: number,
): void {
  let max = -Infinity;
  for (let s = 0; s < n; s++) {
    const x = pre[o + s] + self;
    pre[o + s] = x;
    const l = x > 0 ? x : LEAKY * x;
    alpha[o + s] = l;
    if (l > max) max = l;
  }
  let sum = 0;
  for (let s = 0; s < n; s++) {
    const e = Math.exp(alpha[o + s] - max);
    alpha[o + s] = e;
    sum += e;
  }
  for (let s = 0; s < n; s++) alpha[o + s] /= sum;
}

/** dst[do + x] += c·src[so + x] for x < d. */
function addScaled(
  dst: Float32Array,
  dOff: number,
  src: Float32Array,
  sOff: number,
  c: number,
  d: number,
): void {
  for (let x = 0; x < d; x++) dst[dOff + x] += c * src[sOff + x];
}
