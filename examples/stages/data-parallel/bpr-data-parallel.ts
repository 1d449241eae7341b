/**
 * Data-parallel BPR as a stage: every main rank trains on its own users and the ranks combine
 * item factors with allreduce after every epoch.
 */
import { z } from 'zod';
import { DataError } from '../../../src/core/errors.js';
import { parseParams } from '../../../src/core/params.js';
import { Random } from '../../../src/core/random.js';
import type { ExternalId, ExternalIdColumn } from '../../../src/data/id-map.js';
import { Interactions } from '../../../src/data/interactions.js';
import {
  BprRecommender,
  bprParamsSchema,
  type BprParams,
} from '../../../src/models/bpr/bpr-recommender.js';
import { defineStage, type StageContext } from '../../../src/stages/stage.js';
import { allGather } from './all-gather.js';
import { BprShard } from './bpr-shard.js';
import { idColumn, idField } from './record-values.js';

/** Parameters: BPR's own (same names, defaults and checks as {@link BprRecommender}) plus these. */
export const bprDataParallelParamsSchema = bprParamsSchema.extend({
  columns: z
    .object({ user: z.string().default('userId'), item: z.string().default('movieId') })
    .strict()
    .default({ user: 'userId', item: 'movieId' }),
  itemCombine: z
    .enum(['mean', 'delta-sum'])
    .default('mean')
    .describe(
      "mean: items = mean of the ranks' items (model averaging) | delta-sum: items += the sum of every rank's change in the epoch",
    ),
  output: z
    .string()
    .optional()
    .describe(
      'directory to save the model to (loadable with loadRecommender); otherwise the factors are yielded',
    ),
});
export type BprDataParallelParams = z.output<typeof bprDataParallelParamsSchema>;

/** A (user, item) pair as preprocess emits it. */
export interface UserItemPair {
  user: ExternalId;
  item: ExternalId;
}

/** What rank 0 yields (one record). */
export interface BprDataParallelResult {
  users: number;
  items: number;
  pairs: number;
  epochs: number;
  ranks: number;
  /** Mean BPR loss of the last epoch over every rank's triples. */
  loss: number;
  seconds: number;
  /** Where the model was saved, when `params.output` was given. */
  output?: string;
  /** Without `output`: external ids in index order and row-major factors. */
  userIds?: ExternalId[];
  itemIds?: ExternalId[];
  userFactors?: Float32Array;
  itemFactors?: Float32Array;
}

const BPR_KEYS = Object.keys(bprParamsSchema.shape) as (keyof BprParams)[];

/**
 * Bayesian Personalised Ranking trained on `count` main ranks (the model of {@link BprRecommender},
 * whose parameters it takes; `count` 1 gives exactly the model BprRecommender fits with the same
 * parameters and kernel).
 *
 * preprocess turns rating rows (`params.columns`, MovieLens's `userId`, `movieId` by default)
 * into (user, item) pairs. main, on every rank:
 * 1. all-gathers the pairs (each rank broadcasts its share in turn) and builds the same
 *    binary {@link Interactions} everywhere, so the dense id maps agree exactly and do not depend
 *    on how the runner dealt the records out;
 * 2. owns the users with index u mod count = rank (with their complete rows, so negatives are
 *    rejected against all of a user's positives) and initialises all factors from `seed`, the
 *    same on every rank;
 * 3. per epoch, runs BPR SGD over its users only (the same expected draws per user as one
 *    process), then combines the item factors (and biases) with one allreduce;
 * 4. at the end, allreduces the user factors (each row is non-zero on its owner only, so the
 *    sum is exact) and rank 0 saves the model to `params.output` or yields the factors.
 *
 * Why this split and combination: user factors have a single writer, so they need no averaging
 * and travel only once, at the end. Items are updated by every rank; by default the ranks
 * average them (`itemCombine: 'mean'`, model averaging as in local SGD), which is stable
 * whatever the number of ranks but divides each rank's item updates by `count`, so items move
 * more slowly per epoch than in one process. `'delta-sum'` adds every rank's change instead
 * (what one process would do, to first order), but each rank computed its change against item
 * factors one epoch stale, and summing those overshoots early on: on MovieLens latest-small
 * (32 factors, 10 epochs) nDCG@10 was 0.285 on one rank, 0.287 (2 ranks) and 0.280 (4) with
 * 'mean', 0.266 and 0.225 with 'delta-sum'; at the defaults (30 epochs) every variant reaches
 * 0.327–0.333 against 0.330 on one rank. Across seeds the 2-rank 'mean' figure was 0.95–1.06
 * of one rank's at 10 epochs and 0.98–1.03 at 20, the seed alone moving nDCG by about ±0.01.
 * The all-gather keeps the whole pair list on every rank (8 bytes a pair as dense ids); the
 * parallel work is the SGD, which dominates.
 *
 * @example
 * await runner.run({ module, export: 'bprDataParallel' }, { // any StageRunner
 *   source: { kind: 'csv', path: 'datasets/ml-latest-small/splits/train.csv' }, count: 4,
 *   params: { factors: 64, epochs: 30, output: 'models/bpr' },
 * });
 * const model = await builtinModels().load('models/bpr');
 */
export const bprDataParallel = defineStage({
  name: 'bpr-data-parallel',

  async *preprocess(rows: AsyncIterable<unknown>, ctx: StageContext): AsyncIterable<UserItemPair> {
    const { columns } = paramsOf(ctx);
    for await (const row of rows) {
      const r = row as Record<string, unknown>;
      yield { user: idField(r, columns.user), item: idField(r, columns.item) };
    }
  },

  async *main(
    pairs: AsyncIterable<UserItemPair>,
    ctx: StageContext,
  ): AsyncIterable<BprDataParallelResult> {
    const started = performance.now();
    const p = paramsOf(ctx);
    const f = p.factors;
    const users: ExternalId[] = [];
    const items: ExternalId[] = [];
    for await (const pair of pairs) {
      users.push(pair.user);
      items.push(pair.item);
    }
    const parts = await allGather(ctx, { users: idColumn(users), items: idColumn(items) });
    const userColumn = concatIds(parts.map((x) => x.users));
    if (userColumn.length === 0) throw new DataError({}, 'no (user, item) pairs to train on');
    const data = Interactions.fromColumns(
      userColumn,
      concatIds(parts.map((x) => x.items)),
      null,
      'binary',
    );
    const nUsers = data.users.size;
    const nItems = data.items.size;

    // The same draws as BprRecommender.fitModel, so every rank starts from identical factors.
    const rng = new Random(p.seed);
    const userFactors = rng.fillGaussian(new Float32Array(nUsers * f), p.initStd);
    const itemFactors = rng.fillGaussian(new Float32Array(nItems * f), p.initStd);
    const shard = new BprShard(data, {
      rank: ctx.rank,
      size: ctx.size,
      factors: f,
      userFactors,
      itemFactors,
      itemBias: p.itemBias ? new Float32Array(nItems) : null,
      kernel: p.kernel,
      sampling: p.sampling,
    });
    // Rank 0 goes on with the initialising generator (so that one rank is BprRecommender); the
    // others draw from their own streams.
    const sampler = ctx.rank === 0 ? rng : new Random(p.seed + ctx.rank);
    ctx.log(
      `${nUsers} users (${shard.users.length} here), ${nItems} items, ${data.nnz} pairs; ${shard.samples} triples per epoch here`,
    );

    let loss = 0;
    for (let it = 0; it < p.epochs; it++) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('aborted');
      const before = p.itemCombine === 'delta-sum' && ctx.size > 1 ? snapshot(shard) : null;
      const epochLoss = shard.epoch(
        {
          learningRate: p.learningRate * p.lrDecay ** it,
          reg: p.reg,
          biasReg: p.biasReg,
          sampling: p.sampling,
          negatives: p.negatives,
          rejectPositives: p.rejectPositives,
        },
        sampler,
      );
      await combineItems(ctx, shard, before);
      const [lossSum, samples] = await ctx.allreduce(
        Float64Array.of(epochLoss * shard.samples, shard.samples),
        'sum',
      );
      loss = samples === 0 ? 0 : lossSum / samples;
      if (ctx.rank === 0) ctx.log(`epoch ${it + 1}/${p.epochs}: loss ${loss.toFixed(4)}`);
    }

    const mine = new Float32Array(nUsers * f);
    shard.writeUserFactors(mine);
    const trainedUsers = await ctx.allreduce(mine, 'sum');
    if (ctx.rank !== 0) return;
    const summary = {
      users: nUsers,
      items: nItems,
      pairs: data.nnz,
      epochs: p.epochs,
      ranks: ctx.size,
      loss,
      seconds: 0,
    };
    if (p.output !== undefined) {
      const params = Object.fromEntries(BPR_KEYS.map((k) => [k, p[k]]));
      const arrays: Record<string, Float32Array> = {
        'factors.users': trainedUsers,
        'factors.items': shard.itemFactors,
      };
      if (shard.itemBias !== null) arrays['factors.itemBias'] = shard.itemBias;
      // Through BPR's own artifact path, so loadRecommender gives back a BprRecommender.
      const model = BprRecommender.fromArtifact({
        kind: 'bpr',
        params,
        extra: { factors: f },
        arrays,
        data,
      });
      await model.save(p.output);
      yield { ...summary, seconds: (performance.now() - started) / 1000, output: p.output };
      return;
    }
    yield {
      ...summary,
      seconds: (performance.now() - started) / 1000,
      userIds: data.users.toJSON(),
      itemIds: data.items.toJSON(),
      userFactors: trainedUsers,
      itemFactors: Float32Array.from(shard.itemFactors),
    };
  },
});

function paramsOf(ctx: StageContext): BprDataParallelParams {
  return parseParams(bprDataParallelParamsSchema, ctx.params, 'bprDataParallel');
}

/** Copies of the item factors and biases before an epoch (for delta-sum). */
function snapshot(shard: BprShard): { items: Float32Array; bias: Float32Array | null } {
  return {
    items: Float32Array.from(shard.itemFactors),
    bias: shard.itemBias === null ? null : Float32Array.from(shard.itemBias),
  };
}

/** Combines every rank's item factors (and biases) into the same values on every rank. */
async function combineItems(
  ctx: StageContext,
  shard: BprShard,
  before: { items: Float32Array; bias: Float32Array | null } | null,
): Promise<void> {
  // One rank has nothing to combine, and skipping the float32 round trip keeps it bit-identical
  // to BprRecommender.
  if (ctx.size === 1) return;
  const combine = async (now: Float32Array, old: Float32Array | null): Promise<Float32Array> => {
    if (old === null) return ctx.allreduce(now, 'mean');
    // Deltas rather than sums: they are small, so float32 keeps their precision.
    const delta = new Float32Array(now.length);
    for (let x = 0; x < now.length; x++) delta[x] = now[x] - old[x];
    const total = await ctx.allreduce(delta, 'sum');
    for (let x = 0; x < total.length; x++) total[x] += old[x];
    return total;
  };
  const items = await combine(shard.itemFactors, before?.items ?? null);
  const bias = shard.itemBias === null ? null : await combine(shard.itemBias, before?.bias ?? null);
  shard.setItems(items, bias);
}

/** Joins id columns: numbers stay numbers only if every part is numeric. */
function concatIds(parts: readonly ExternalIdColumn[]): ExternalIdColumn {
  if (parts.every((x) => x instanceof Float64Array)) {
    const out = new Float64Array(parts.reduce((n, x) => n + x.length, 0));
    let at = 0;
    for (const x of parts) {
      out.set(x as Float64Array, at);
      at += x.length;
    }
    return out;
  }
  return parts.flatMap((x) => Array.from(x as ArrayLike<ExternalId>, String));
}
