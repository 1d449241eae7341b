import { z } from 'zod';
import { NotFittedError } from '../../core/errors.js';
import { parseParams } from '../../core/params.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import { BaseRecommender } from '../base-recommender.js';
import type { FitOptions, FitReport } from '../recommender.js';
import type { SearchSpace } from '../search-space.js';
import { runIterations } from '../training-loop.js';
import { combineUsers, itemSideWeights, userSideFactors } from './ease-exact.js';
import { neighbourWeights } from './ease-neighbours.js';

/**
 * EASE's hyper-parameters, each with its default: λ was chosen on a validation carve of the
 * bundled train file (bench/tune.ts: 300 best, 250–400 within 0.0003 nDCG@10), never on test.
 */
export const easeParamsSchema = z
  .object({
    lambda: z
      .number()
      .gt(0)
      .default(300)
      .describe('L2 regularisation λ added to the diagonal of the Gram matrix XᵀX'),
    maxDenseItems: z
      .int()
      .min(1)
      .default(15000)
      .describe(
        'largest side (users or items, whichever is smaller) solved exactly; above it the neighbour variant is used (15000: the float64 inverse still fits WebAssembly memory)',
      ),
    neighbours: z
      .int()
      .min(0)
      .default(0)
      .describe(
        'EASE: solve each item over its K most co-occurring items only (the scalable variant); 0 = exact up to maxDenseItems, K = 200 above',
      ),
    solver: z
      .enum(['auto', 'items', 'users'])
      .default('auto')
      .describe(
        'EASE exact solve: items (n×n inverse) | users (m×m inverse, Woodbury) | auto (the smaller side)',
      ),
  })
  .strict();
/** EASE's hyper-parameters with defaults filled in. */
export type EaseParams = z.output<typeof easeParamsSchema>;

/** What `kiban tune` searches for EASE: λ on a log scale and the scalable variant's K. */
export const easeSearchSpace: SearchSpace = {
  lambda: { kind: 'float', low: 10, high: 5000, log: true },
  neighbours: { kind: 'int', low: 20, high: 500, log: true },
};

/** K of the neighbour variant when the catalogue is too big for the exact solve and none was set. */
const DEFAULT_NEIGHBOURS = 200;

/** How a fitted model holds B. */
type Form =
  | { kind: 'items'; weights: Float32Array }
  | { kind: 'users'; k: Float64Array; diag: Float64Array }
  | { kind: 'neighbours'; weights: CsrMatrix };

/**
 * EASE (Steck 2019): the item–item weights B minimising ‖X − XB‖² + λ‖B‖² with diag(B) = 0 on
 * the binary user×item matrix X, in closed form B = I − P·diag(P)⁻¹, P = (XᵀX + λI)⁻¹; a user's
 * scores are X_u·B. The exact solve inverts on the smaller side of X (items, or users through
 * Woodbury's identity); past `maxDenseItems`, or when `neighbours` is set, each item's column is
 * solved over its K most co-occurring items only.
 */
export class EaseRecommender extends BaseRecommender<EaseParams> {
  readonly kind = 'ease' as const;
  private form: Form | undefined;
  private binary: CsrMatrix | undefined;
  private readonly scratch = { m: new Float64Array(0), n: new Float64Array(0) };

  constructor(params: Partial<EaseParams> | Record<string, unknown> = {}) {
    super(parseParams(easeParamsSchema, params, 'ease'));
  }

  /** Which solve the fitted model used: `items`, `users` or `neighbours`. */
  get solver(): Form['kind'] {
    if (this.form === undefined) throw new NotFittedError(this.kind);
    return this.form.kind;
  }

  /** The model {@link EaseRecommender.save} wrote, restored from its artifact and training data. */
  static fromArtifact(artifact: Artifact & { data: Interactions }): EaseRecommender {
    const model = new EaseRecommender(artifact.params);
    const n = artifact.data.items.size;
    const a = artifact.arrays;
    const kind = artifact.extra.solver;
    if (kind === 'items') model.form = { kind, weights: a['ease.weights'] as Float32Array };
    else if (kind === 'users')
      model.form = { kind, k: a['ease.k'] as Float64Array, diag: a['ease.diag'] as Float64Array };
    else
      model.form = {
        kind: 'neighbours',
        weights: new CsrMatrix(
          n,
          n,
          a['ease.indptr'] as Int32Array,
          a['ease.indices'] as Int32Array,
          a['ease.values'] as Float32Array,
        ),
      };
    model.binary = binarize(artifact.data.userItems);
    model.restore(artifact.data);
    return model;
  }

  protected async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    const { lambda, maxDenseItems, neighbours, solver } = this.params;
    const users = data.users.size;
    const items = data.items.size;
    return runIterations('ease', 1, options, () => {
      const x = binarize(data.userItems);
      const side = solver === 'auto' ? (users < items ? 'users' : 'items') : solver;
      const exactSize = side === 'users' ? users : items;
      if (neighbours > 0 || exactSize > maxDenseItems) {
        const k = neighbours > 0 ? neighbours : DEFAULT_NEIGHBOURS;
        this.form = { kind: 'neighbours', weights: neighbourWeights(x, x.transpose(), lambda, k) };
      } else if (side === 'users') {
        const { k, diag } = userSideFactors(x, x.transpose(), lambda);
        this.form = { kind: 'users', k, diag };
      } else {
        this.form = { kind: 'items', weights: itemSideWeights(x, lambda).weights };
      }
      this.binary = x;
      return undefined;
    });
  }

  protected scoreUser(u: number, out: Float32Array): void {
    const form = this.form!;
    const x = this.binary!;
    const n = out.length;
    if (form.kind === 'users') {
      // X_u·B = X_u − (K_u·X) / diag(P).
      const m = x.rows;
      const kx = this.buffer('n', n);
      combineUsers(form.k.subarray(u * m, (u + 1) * m), x, kx);
      for (let j = 0; j < n; j++) out[j] = -kx[j] / form.diag[j];
      for (let e = x.indptr[u]; e < x.indptr[u + 1]; e++) out[x.indices[e]] += 1;
      return;
    }
    out.fill(0);
    if (form.kind === 'items') {
      const w = form.weights;
      for (let e = x.indptr[u]; e < x.indptr[u + 1]; e++) {
        const row = x.indices[e] * n;
        for (let j = 0; j < n; j++) out[j] += w[row + j];
      }
      return;
    }
    const w = form.weights;
    for (let e = x.indptr[u]; e < x.indptr[u + 1]; e++) {
      const i = x.indices[e];
      for (let f = w.indptr[i]; f < w.indptr[i + 1]; f++) out[w.indices[f]] += w.values[f];
    }
  }

  protected scoreSimilar(i: number, out: Float32Array): void {
    const form = this.form!;
    const n = out.length;
    if (form.kind === 'items') {
      out.set(form.weights.subarray(i * n, (i + 1) * n));
      return;
    }
    if (form.kind === 'neighbours') {
      const w = form.weights;
      out.fill(-Infinity);
      for (let f = w.indptr[i]; f < w.indptr[i + 1]; f++) out[w.indices[f]] = w.values[f];
      return;
    }
    // Row i of B: −P_ij / P_jj with P_i = (e_i − (X_iᵀ·K)·X) / λ.
    const x = this.binary!;
    const m = x.rows;
    const xt = this.data.itemUsers;
    const c = this.buffer('m', m).fill(0);
    for (let e = xt.indptr[i]; e < xt.indptr[i + 1]; e++) {
      const row = xt.indices[e] * m;
      for (let w = 0; w < m; w++) c[w] += form.k[row + w];
    }
    const y = this.buffer('n', n);
    combineUsers(c, x, y);
    for (let j = 0; j < n; j++) out[j] = y[j] / (this.params.lambda * form.diag[j]);
  }

  protected artifactContent(): Pick<Artifact, 'arrays' | 'extra'> {
    const form = this.form!;
    if (form.kind === 'items')
      return { arrays: { 'ease.weights': form.weights }, extra: { solver: form.kind } };
    if (form.kind === 'users')
      return { arrays: { 'ease.k': form.k, 'ease.diag': form.diag }, extra: { solver: form.kind } };
    const w = form.weights;
    return {
      arrays: { 'ease.indptr': w.indptr, 'ease.indices': w.indices, 'ease.values': w.values },
      extra: { solver: form.kind },
    };
  }

  private buffer(which: 'm' | 'n', length: number): Float64Array {
    if (this.scratch[which].length !== length) this.scratch[which] = new Float64Array(length);
    return this.scratch[which];
  }
}

/** The same pattern with every value 1: EASE models presence, not counts or ratings. */
function binarize(m: CsrMatrix): CsrMatrix {
  return new CsrMatrix(m.rows, m.cols, m.indptr, m.indices, new Float32Array(m.nnz).fill(1));
}
