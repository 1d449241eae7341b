import { z } from 'zod';
import { parseParams } from '../../core/params.js';
import { Random } from '../../core/random.js';
import { InvalidArgumentError } from '../../core/errors.js';
import { defaultThreadCount } from '../../core/threads.js';
import type { CsrMatrix } from '../../data/csr-matrix.js';
import type { Interactions } from '../../data/interactions.js';
import type { Artifact } from '../artifact.js';
import type { EmbeddingModel, FitOptions, FitReport } from '../recommender.js';
import { FactorModel } from '../factor-model.js';
import { runIterations } from '../training-loop.js';
import { weightInteractions } from '../weighting.js';
import {
  alsLoss,
  createScratch,
  gramMatrix,
  shortRowLimit,
  solveRows,
  woodburyBasis,
  type HalfStep,
} from './als-kernel.js';
import { AlsWasmEngine } from './als-wasm.js';

export const alsParamsSchema = z
  .object({
    factors: z.int().min(1).max(1024).default(128).describe('latent dimensions'),
    reg: z.number().min(0).default(30).describe('L2 regularisation λ (added to the diagonal)'),
    alpha: z.number().min(0).default(3).describe('confidence slope: c = 1 + alpha·r'),
    iterations: z.int().min(1).default(15).describe('alternating sweeps (users, then items)'),
    solver: z
      .enum(['cg', 'exact'])
      .default('cg')
      .describe('cg (conjugate gradient) | exact (Cholesky)'),
    cgSteps: z.int().min(1).default(3).describe('conjugate-gradient steps per row and sweep'),
    weighting: z
      .enum(['none', 'tfidf', 'bm25'])
      .default('none')
      .describe('weighting of r before confidence: none | tfidf | bm25'),
    bm25K1: z.number().min(0).default(100).describe('BM25 saturation K1'),
    bm25B: z.number().min(0).max(1).default(0.8).describe('BM25 length normalisation B'),
    seed: z.int().default(42).describe('random seed of the initial factors'),
    threads: z
      .int()
      .min(0)
      .default(0)
      .describe('threads (the main one included); 0 = one per core on large data'),
    kernel: z
      .enum(['auto', 'wasm', 'js'])
      .default('auto')
      .describe('auto (WebAssembly SIMD when built, else JS) | wasm | js'),
  })
  .strict();
export type AlsParams = z.output<typeof alsParamsSchema>;

/** Below this many interactions, starting a worker thread costs more than it saves. */
const MIN_NNZ_FOR_THREADS = 500_000;

/**
 * Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky
 * 2008): every user×item cell is a preference p (1 if interacted, else 0) with confidence
 * c = 1 + alpha·r. With the conjugate-gradient solver, rows are solved by a WebAssembly SIMD
 * kernel on all cores over shared memory (see AlsWasmEngine: the side with many rows is solved
 * in the eigenbasis of YᵀY + λI, its short rows exactly); the exact solver and the fallback run
 * in JavaScript.
 */
export class AlsRecommender extends FactorModel<AlsParams> implements EmbeddingModel {
  readonly kind = 'als' as const;

  constructor(params: Partial<AlsParams> | Record<string, unknown> = {}) {
    super(parseParams(alsParamsSchema, params, 'als'));
  }

  static fromArtifact(artifact: Artifact & { data: Interactions }): AlsRecommender {
    const model = new AlsRecommender(artifact.params);
    model.restoreFactors(artifact);
    return model;
  }

  protected async fitModel(data: Interactions, options: FitOptions): Promise<FitReport> {
    const p = this.params;
    const f = p.factors;
    const nUsers = data.users.size;
    const nItems = data.items.size;
    // Weighting rescales r in c = 1 + alpha·r: rare items and short histories count for more.
    const byUser = p.weighting === 'none' ? data.userItems : weightInteractions(data.userItems, p);
    const byItem = p.weighting === 'none' ? data.itemUsers : byUser.transpose();
    const engine = this.createEngine(byUser, byItem);
    const userFactors = engine?.factorsOf('users') ?? new Float32Array(nUsers * f);
    const itemFactors = engine?.factorsOf('items') ?? new Float32Array(nItems * f);
    const rng = new Random(p.seed);
    rng.fillGaussian(userFactors, 0.01);
    rng.fillGaussian(itemFactors, 0.01);
    const scratch = createScratch(f);
    const wantLoss =
      options.loss ??
      (options.onIteration !== undefined ||
        options.progress === true ||
        (options.progress !== false && process.stderr.isTTY === true));

    // The JS kernel's short rows (Woodbury), decided once per side as the engine does.
    const jsShortLimit = (m: CsrMatrix, otherRows: number): number =>
      engine === null && p.solver === 'cg' ? shortRowLimit(m.indptr, otherRows, f, p.cgSteps) : 0;
    const userShortLimit = jsShortLimit(byUser, nItems);
    const itemShortLimit = jsShortLimit(byItem, nUsers);
    const jsSweep = (
      m: CsrMatrix,
      x: Float32Array,
      y: Float32Array,
      yRows: number,
      shortLimit: number,
    ): void => {
      const { indptr, indices, values } = m;
      const gram = gramMatrix(y, yRows, f, p.reg);
      const step: HalfStep = {
        factors: f,
        reg: p.reg,
        alpha: p.alpha,
        cgSteps: p.cgSteps,
        solver: p.solver,
        indptr,
        indices,
        values,
        x,
        y,
        gram,
        shortLimit,
        basis: shortLimit > 0 ? woodburyBasis(y, yRows, gram, f) : null,
      };
      solveRows(step, 0, m.rows, scratch);
    };

    try {
      return await runIterations('als', p.iterations, options, async () => {
        if (engine !== null) {
          await engine.sweep({ side: 'users', alpha: p.alpha, cgSteps: p.cgSteps }, p.reg);
          await engine.sweep({ side: 'items', alpha: p.alpha, cgSteps: p.cgSteps }, p.reg);
        } else {
          jsSweep(byUser, userFactors, itemFactors, nItems, userShortLimit);
          jsSweep(byItem, itemFactors, userFactors, nUsers, itemShortLimit);
        }
        if (!wantLoss) return undefined;
        const { indptr, indices, values } = byUser;
        const gram = gramMatrix(itemFactors, nItems, f, 0);
        return alsLoss(
          {
            factors: f,
            reg: p.reg,
            alpha: p.alpha,
            indptr,
            indices,
            values,
            x: userFactors,
            y: itemFactors,
          },
          nUsers,
          nItems,
          gram,
        );
      });
    } finally {
      this.setFactors(
        { rows: nUsers, cols: f, data: userFactors },
        { rows: nItems, cols: f, data: itemFactors },
      );
      await engine?.close();
    }
  }

  /** The SIMD engine when the parameters allow it, or null for the portable JS kernel. */
  private createEngine(byUser: CsrMatrix, byItem: CsrMatrix): AlsWasmEngine | null {
    const p = this.params;
    if (p.kernel === 'js') return null;
    const usable = p.solver === 'cg' && p.factors % 4 === 0;
    if (p.kernel === 'wasm' && !usable) {
      throw new InvalidArgumentError(
        'als.kernel',
        'the wasm kernel needs solver "cg" and factors divisible by 4',
      );
    }
    if (!usable) return null;
    // Automatic threading only pays once the data is big enough; an explicit count is obeyed.
    const threads =
      p.threads !== 0 ? p.threads : byUser.nnz >= MIN_NNZ_FOR_THREADS ? defaultThreadCount() : 1;
    const engine = AlsWasmEngine.create(byUser, byItem, p.factors, threads, p.cgSteps);
    if (engine === null && p.kernel === 'wasm') {
      throw new InvalidArgumentError(
        'als.kernel',
        'the WebAssembly kernel is not built; run "npm run build:wasm"',
      );
    }
    return engine;
  }
}
