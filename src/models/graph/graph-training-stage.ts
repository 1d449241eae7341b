/**
 * Training the graph models (`graphsage`, `gat`) as a stage: sampled sub-graphs are drawn where
 * the interaction log is read, and `count` main ranks train one model data-parallel.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import { parseParams } from '../../core/params.js';
import { Random } from '../../core/random.js';
import type { ExternalId } from '../../data/id-map.js';
import { mainRankOf } from '../../stages/roles.js';
import { defineStage, type StageContext } from '../../stages/stage.js';
import { GraphNetwork } from './graph-network.js';
import { gatParamsSchema } from './graph-recommender.js';
import { drawStep, shuffleInPlace } from './neighbour-sampler.js';

/**
 * Parameters: the graph models' own hyper-parameters (same names, defaults and meaning as
 * `graphsage` / `gat`; `heads` and `attentionInitStd` only for `gat`) plus where the data is.
 */
export const graphTrainingParamsSchema = gatParamsSchema
  .extend({
    model: z.enum(['graphsage', 'gat']).default('graphsage').describe('which graph model'),
    columns: z
      .object({ user: z.string().default('userId'), item: z.string().default('movieId') })
      .strict()
      .default({ user: 'userId', item: 'movieId' })
      .describe('the columns of the interaction log holding the user and the item'),
    items: z
      .array(z.union([z.string(), z.number()]))
      .optional()
      .describe('the item vocabulary (ids in the order of the item table)'),
    itemsFile: z
      .string()
      .optional()
      .describe('the item vocabulary as a text file, one id per line'),
    itemCount: z
      .int()
      .min(1)
      .optional()
      .describe('the item vocabulary is the integers 0 … itemCount − 1'),
    maxUserItems: z
      .int()
      .min(1)
      .max(65_536)
      .default(1024)
      .describe(
        "most items of one user a step samples from (and embeds from): a heavier user's are subsampled",
      ),
    userRuns: z
      .boolean()
      .default(false)
      .describe(
        "each partition holds a user's rows consecutively: stream them, holding one user at a time (one epoch)",
      ),
    maxSteps: z
      .int()
      .min(0)
      .optional()
      .describe(
        'stop training after this many steps (the rest of the input is read, and its users embedded)',
      ),
    embedUsers: z
      .boolean()
      .default(true)
      .describe("postprocess writes every user's embedding (main keeps users' item lists)"),
  })
  .strict();
export type GraphTrainingParams = z.output<typeof graphTrainingParamsSchema>;

/**
 * A mini-batch of sampled sub-graphs, as preprocess yields it: per user `sizes` holds (n first
 * hops, nt targets, total items sampled from), `items` the n first hops, the nt targets, then
 * (with `fanout2` S2 > 0) n × S2 second hops, S2 per first hop in its order.
 */
export interface GraphTrainingBatch {
  kind: 'batch';
  /** Routes the record to a main rank (see `partitionBy`): unique per batch. */
  key: string;
  epoch: number;
  sizes: Int32Array;
  items: Int32Array;
}

/** Users whose embeddings postprocess writes: user k's items are `items[offsets[k]..offsets[k+1])`. */
export interface GraphUserBatch {
  kind: 'users';
  key: string;
  ids: ExternalId[];
  offsets: Int32Array;
  items: Int32Array;
}

/**
 * A partition's second-hop reservoirs once it is read (only with `fanout2` > 0): per item i,
 * `counts[i]` users of the partition had i, and `slots[i·S2 … (i+1)·S2)` holds S2 second hops of i,
 * each one an item of a uniformly drawn one of those users (i itself when it had none). Every
 * such record has the key `hops`, so one main rank merges them (see {@link HopReservoir}).
 */
export interface GraphHopsRecord {
  kind: 'hops';
  key: 'hops';
  /** The partition's record-key prefix: the merge takes partitions in this order. */
  part: string;
  counts: Int32Array;
  slots: Int32Array;
}

/** A preprocessed record. */
export type GraphTrainingRecord = GraphTrainingBatch | GraphUserBatch | GraphHopsRecord;

/** What main yields: the item table (rank 0 only), then its users' vectors in batches. */
export type GraphTrainingOutput =
  | {
      kind: 'items';
      ids: ExternalId[];
      vectors: Float32Array;
      bias: Float32Array | null;
      dim: number;
    }
  | { kind: 'users'; ids: ExternalId[]; vectors: Float32Array; dim: number };

/** A row the sink receives: one embedding. */
export interface GraphEmbeddingRow {
  entity: 'item' | 'user';
  id: ExternalId;
  vector: number[];
  /** The item's score bias (0 for users); only with `itemBias`. */
  bias?: number;
}

/**
 * Trains `graphsage` or `gat` (see `GraphRecommender` for the model) on `count` main ranks and
 * writes every item's and every user's embedding: the pattern to copy for data-parallel training
 * on the stage framework.
 *
 * - `preprocess`, per partition of the interaction log (rows with `columns.user`,
 *   `columns.item`): groups the rows by user, maps items to the vocabulary (`items`, `itemsFile`
 *   or `itemCount`; rows of unknown items are skipped and counted), and yields, for each of
 *   `epochs` passes, the partition's users in a seeded shuffled order as mini-batches of
 *   `batchSize` sampled sub-graphs (the user's items, at most `maxUserItems` of them, with a share
 *   `dropout` dropped from the input and predicted as targets, at most `fanout1` first hops, and
 *   with `fanout2` S2 > 0 S2 second hops per first hop); then the users' item lists for
 *   embedding, and (S2 > 0) the partition's second-hop reservoirs. With `userRuns` it streams
 *   instead: a user's rows must be consecutive, one epoch, and only the current user is held.
 * - Second hops (`fanout2` > 0, both layers of the model): preprocess keeps, per item, S2
 *   reservoirs over the partition's users ({@link HopReservoir}), each slot an item of a
 *   uniformly drawn user of the item, uniformly drawn among that user's items: the distribution
 *   `NeighbourSampler.secondHops` draws from in memory, from items × S2 numbers instead of the
 *   graph. A step's first hop i carries i's S2 slots at the moment the user is sampled. In
 *   memory each step draws afresh; here the slots are redrawn once an epoch (from every user of
 *   the partition, before the epoch's steps), or with `userRuns` they follow the stream (the
 *   users read so far, the current one included), so the first users see few co-users (an item
 *   not yet seen is its own second hop, as an item without users is in memory). Hops come from
 *   the preprocess partition's users only: give a worker few large partitions. For the frozen
 *   item layer after training, the partitions' reservoirs go to the one main rank their key
 *   `hops` routes to, which merges them into one sample over the whole log ({@link mergeHops})
 *   and broadcasts it, so every rank's item rows agree. On the bundled MovieLens split at the
 *   test's short schedule (width 16, 6 epochs, `fanout1` 25, `fanout2` 8, one rank) nDCG@10 over
 *   seeds 42, 1, 2 is 0.251, 0.262, 0.266 (mean 0.260), as `graphsage` in memory with fresh hops
 *   each step: 0.271, 0.253, 0.251 (0.258); `fanout2` 0: 0.248, 0.253, 0.245 (0.249). Keeping
 *   4 × S2 slots an item and drawing S2 of them each step did not help (0.252, 0.258, 0.252).
 * - `main`, on every rank: builds the same network from `seed`; each step it takes
 *   ⌈batchSize / count⌉ sub-graphs of its own, adds their gradient (each weighted by its share of
 *   the global step's targets, or 1/users with `lossWeighting: 'user'`) and sums the gradient over
 *   the ranks with one `allreduce`; every rank then applies the same AdamW update, so the
 *   parameters stay identical. Ranks step in lockstep until every rank's input is spent (a rank
 *   out of data still joins the collectives with an empty step). The learning rate decays by
 *   `lrDecay` per epoch of the step's sub-graphs. After training every item's layer-1 output is
 *   frozen (`GraphNetwork.freezeItems`: its own embedding, or with S2 > 0 from its merged
 *   second hops), and users are embedded from those rows, as `GraphRecommender` serves them.
 * - `postprocess`: rows `{ entity: 'item' | 'user', id, vector }`, the items from rank 0, each
 *   user from the rank that holds it (with `embedUsers`).
 *
 * Memory: a preprocess worker holds its partition's item lists as numbers (none with
 * `userRuns`) and, with S2 > 0, its reservoirs (items × (12·S2 + 12) bytes); a main rank holds the model (parameters, gradients and Adam moments of
 * items × dim each, one score per item), the sub-graphs queued for it, and, with `embedUsers`,
 * its users' item lists (4 bytes an interaction, at most `maxUserItems` per user); the rank that
 * merges second hops holds one items × S2 int32 table per partition until training ends. The
 * scratch of a step is sized by `maxUserItems`, `fanout1` and `fanout2`, never by the heaviest
 * user or the graph.
 * `bench/gnn-memory.ts` (inline runner, 50,000 items at width 32, streamed users, 20 steps):
 * peak RSS 196 MB at 1M edges and 219 MB at 10M (the graph as int32 pairs: 76 MB) without
 * `embedUsers`, 224 and 290 MB with it (its 4 bytes an edge), on a 111 MB process baseline;
 * with `fanout2` 10, 201 MB at 1M edges, 245–269 MB at 10M and 228 MB at 20M (the reservoirs
 * 6.6 MB; the rest is the runner's queue of sub-graphs, now with 10 second hops a first hop).
 *
 * Epochs cycle within each partition, so give a worker few large partitions (as one file is).
 *
 * @example
 * // From the shell (items.txt: the item ids, one a line):
 * //   npx kiban stage run src/models/graph/graph-training-stage.ts --export graphTraining \
 * //     --source csv:datasets/ml-latest-small/splits/train.csv --sink parquet:.kiban/out/gnn \
 * //     --runner threads --count 2 -p itemsFile=items.txt -p epochs=10
 * const result = await new ThreadStageRunner().run(
 *   { module: 'src/models/graph/graph-training-stage.ts', export: 'graphTraining' },
 *   { source: { kind: 'csv', path: 'datasets/ml-latest-small/splits/train.csv' }, count: 2,
 *     sink: { kind: 'parquet', path: '.kiban/out/gnn' }, params: { items, epochs: 10 } },
 * );
 */
export const graphTraining = defineStage({
  name: 'graph-training',

  async *preprocess(rows: AsyncIterable<unknown>, ctx: StageContext) {
    const p = paramsOf(ctx);
    const vocabulary = vocabularyOf(p);
    const call = (calls.get(ctx) ?? 0) + 1;
    calls.set(ctx, call);
    const rng = new Random(mixSeed(p.seed, ctx.rank, call));
    const prefix = `${ctx.rank}.${call}.`;
    // Second hops: a reservoir per item over the partition's users, drawn from its own stream
    // (so that fanout2 leaves the steps' draws as they are).
    const reservoir =
      p.fanout2 > 0
        ? new HopReservoir(vocabulary.size, p.fanout2, mixSeed(~p.seed, ctx.rank, call))
        : null;
    const batches = new BatchBuilder(p, rng, prefix, reservoir);
    let skipped = 0;
    const itemOf = (row: Record<string, unknown>): number => {
      const index = vocabulary.indexOf(row[p.columns.item]);
      if (index < 0) skipped++;
      return index;
    };

    if (p.userRuns) {
      if (p.epochs !== 1)
        throw new InvalidArgumentError('graphTraining.userRuns', 'streams one epoch: set epochs 1');
      let user: ExternalId | null = null;
      let items: number[] = [];
      for await (const row of rows) {
        const r = row as Record<string, unknown>;
        const id = idOf(r, p.columns.user);
        if (id !== user) {
          if (user !== null) {
            reservoir?.addUser(items);
            yield* batches.add(user, items, 0);
          }
          user = id;
          items = [];
        }
        const item = itemOf(r);
        if (item >= 0) items.push(item);
      }
      if (user !== null) {
        reservoir?.addUser(items);
        yield* batches.add(user, items, 0);
      }
      yield* batches.flush(0);
    } else {
      const byUser = new Map<ExternalId, number[]>();
      for await (const row of rows) {
        const r = row as Record<string, unknown>;
        const item = itemOf(r);
        if (item < 0) continue;
        const id = idOf(r, p.columns.user);
        let items = byUser.get(id);
        if (items === undefined) byUser.set(id, (items = []));
        items.push(item);
      }
      const users = [...byUser.keys()];
      const order = Int32Array.from(users, (_, u) => u);
      for (let epoch = 0; epoch < p.epochs; epoch++) {
        if (reservoir !== null) {
          // Fresh second hops each epoch, from every user of the partition.
          reservoir.reset();
          for (const items of byUser.values()) reservoir.addUser(items);
        }
        shuffleInPlace(order, rng);
        for (const u of order) yield* batches.add(users[u], byUser.get(users[u])!, epoch, false);
        yield* batches.flush(epoch, false);
      }
      for (const user of users) yield* batches.addUser(user, byUser.get(user)!);
      yield* batches.flush(p.epochs - 1);
    }
    if (reservoir !== null) yield reservoir.record(prefix);
    if (skipped > 0) ctx.log(`skipped ${skipped} rows of items outside the vocabulary`);
  },

  partitionBy: (record: GraphTrainingRecord) => record.key,

  async *main(
    records: AsyncIterable<GraphTrainingRecord>,
    ctx: StageContext,
  ): AsyncIterable<GraphTrainingOutput> {
    const p = paramsOf(ctx);
    const nItems = vocabularyOf(p).size;
    const net = createNetwork(p, nItems);
    const d = p.dim;
    const users = new UserStore();
    const hopRecords: GraphHopsRecord[] = [];
    const queue = new SampleQueue(records[Symbol.asyncIterator](), users, hopRecords, p.fanout2);
    const S2 = p.fanout2;
    // Ranks still with input share each step's batchSize sub-graphs (one out of input leaves the
    // others a larger share, so the last steps are as large as the first).
    let quota = Math.ceil(p.batchSize / ctx.size);
    let epochShown = 0;
    let lossSum = 0;
    let lossTerms = 0;
    let steps = 0;
    const local: Sample[] = [];
    for (;;) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('aborted');
      if (steps === p.maxSteps) break; // the same step on every rank
      local.length = 0;
      let targets = 0;
      let epochs = 0;
      while (local.length < quota) {
        const s = await queue.next();
        if (s === null) break;
        local.push(s);
        targets += s.nt;
        epochs += s.epoch;
      }
      const mine = Float64Array.of(local.length, targets, epochs, local.length < quota ? 1 : 0);
      const [count, allTargets, epochSum, spent] =
        ctx.size === 1 ? mine : await queue.waiting(ctx.allreduce(mine, 'sum'));
      if (count === 0) break;
      quota = Math.ceil(p.batchSize / Math.max(1, ctx.size - spent));
      const epoch = Math.floor(epochSum / count);
      if (epoch !== epochShown && ctx.rank === 0) {
        ctx.log(`epoch ${epochShown + 1}: loss ${(lossSum / Math.max(1, lossTerms)).toFixed(4)}`);
        lossSum = 0;
        lossTerms = 0;
        epochShown = epoch;
      }
      for (const s of local) {
        net.neighbours.set(s.items.subarray(s.at, s.at + s.n));
        net.targets.set(s.items.subarray(s.at + s.n, s.at + s.n + s.nt));
        if (S2 > 0) {
          const from = s.at + s.n + s.nt;
          net.hops.set(s.items.subarray(from, from + s.n * S2));
        }
        const c = p.lossWeighting === 'user' ? 1 / count : s.nt / allTargets;
        lossSum += net.step(s.n, s.nt, c, s.total);
        lossTerms++;
      }
      if (ctx.size > 1)
        net.grads.set(await queue.waiting(ctx.allreduce(new Float32Array(net.grads), 'sum')));
      net.adam(p.learningRate * p.lrDecay ** epoch, p.weightDecay);
      steps++;
    }
    // After maxSteps: read the rest, so that every user reaches the store (and preprocess ends).
    while ((await queue.next()) !== null);
    if (ctx.rank === 0)
      ctx.log(
        `epoch ${epochShown + 1}: loss ${(lossSum / Math.max(1, lossTerms)).toFixed(4)}; ${steps} steps on ${ctx.size} rank(s)`,
      );
    if (S2 === 0) {
      // No second hops: every item's layer-1 output is its own embedding.
      net.freezeItems(() => {});
    } else {
      // Every item's layer-1 output from one sample of its second hops over the whole log: the
      // partitions' reservoirs, all on the rank their key 'hops' routes to, merged there and
      // sent to every rank, so that the ranks' item rows (and users' vectors) agree.
      const root = mainRankOf('hops', ctx.size);
      let slots: Int32Array | null = null;
      if (ctx.rank === root) {
        slots = mergeHops(hopRecords, nItems, S2, p.seed);
        ctx.log(`second hops of the items merged from ${hopRecords.length} partition(s)`);
      }
      if (ctx.size > 1) slots = await ctx.broadcast(slots, root);
      const table = slots!;
      net.freezeItems((item, out) => out.set(table.subarray(item * S2, (item + 1) * S2)));
    }
    if (ctx.rank === 0)
      yield {
        kind: 'items',
        ids: vocabularyOf(p).ids(),
        vectors: Float32Array.from(net.outputItems()),
        bias: p.itemBias ? Float32Array.from(net.param('bias').subarray(0, nItems)) : null,
        dim: d,
      };
    const EMBED_BATCH = 1024;
    for (let from = 0; from < users.size; from += EMBED_BATCH) {
      const to = Math.min(users.size, from + EMBED_BATCH);
      const vectors = new Float32Array((to - from) * d);
      for (let u = from; u < to; u++) net.embed(users.itemsOf(u), vectors, (u - from) * d);
      yield { kind: 'users', ids: users.ids.slice(from, to), vectors, dim: d };
    }
  },

  async *postprocess(
    outputs: AsyncIterable<GraphTrainingOutput>,
  ): AsyncIterable<GraphEmbeddingRow> {
    for await (const out of outputs) {
      const entity = out.kind === 'items' ? 'item' : 'user';
      const bias = out.kind === 'items' ? out.bias : null;
      const withBias = out.kind === 'items' ? out.bias !== null : false;
      for (let r = 0; r < out.ids.length; r++) {
        const row: GraphEmbeddingRow = {
          entity,
          id: out.ids[r],
          vector: Array.from(out.vectors.subarray(r * out.dim, (r + 1) * out.dim)),
        };
        if (withBias) row.bias = bias![r];
        yield row;
      }
    }
  },
});

/** How many times preprocess ran on a worker (its partitions), so each partition draws its own. */
const calls = new WeakMap<StageContext, number>();

function paramsOf(ctx: StageContext): GraphTrainingParams {
  const p = parseParams(graphTrainingParamsSchema, ctx.params, 'graphTraining');
  const given = [p.items, p.itemsFile, p.itemCount].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new InvalidArgumentError(
      'graphTraining.items',
      'give the item vocabulary as exactly one of items, itemsFile or itemCount',
    );
  return p;
}

/** A 32-bit seed from the stage seed, the preprocess rank and the partition's turn on it. */
function mixSeed(seed: number, rank: number, call: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [rank, call]) h = Math.imul(h ^ (x + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  return h ^ (h >>> 13);
}

/** An id field: integers (also as strings) become numbers, anything else a string. */
function idOf(row: Record<string, unknown>, column: string): ExternalId {
  const v = row[column];
  if (v === null || v === undefined || v === '')
    throw new DataError({ column }, 'is missing or null');
  const key = keyOf(v);
  const n = Number(key);
  return Number.isSafeInteger(n) && String(n) === key ? n : key;
}

/** The string an id is looked up by: `429`, `429n` and `"429"` are one id. */
function keyOf(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** The item vocabulary: external id ↔ dense index. */
interface Vocabulary {
  size: number;
  /** The dense index of an item id; −1 when outside the vocabulary. */
  indexOf(id: unknown): number;
  ids(): ExternalId[];
}

const vocabularies = new Map<string, Vocabulary>();

function vocabularyOf(p: GraphTrainingParams): Vocabulary {
  if (p.itemCount !== undefined) {
    const n = p.itemCount;
    return {
      size: n,
      indexOf: (id) => {
        const x = typeof id === 'number' ? id : Number(keyOf(id));
        return Number.isInteger(x) && x >= 0 && x < n ? x : -1;
      },
      ids: () => Array.from({ length: n }, (_, i) => i),
    };
  }
  const cacheKey = p.itemsFile ?? '';
  const cached = p.itemsFile === undefined ? undefined : vocabularies.get(cacheKey);
  if (cached !== undefined) return cached;
  const list: ExternalId[] =
    p.items ??
    readFileSync(p.itemsFile!, 'utf8')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => idOf({ id: line }, 'id'));
  const index = new Map<string, number>();
  for (const id of list) if (!index.has(keyOf(id))) index.set(keyOf(id), index.size);
  if (index.size === 0)
    throw new InvalidArgumentError('graphTraining.items', 'the item vocabulary is empty');
  const ids = [...index.keys()].map((key) => idOf({ id: key }, 'id'));
  const vocabulary: Vocabulary = {
    size: index.size,
    indexOf: (id) => index.get(keyOf(id)) ?? -1,
    ids: () => ids.slice(),
  };
  if (p.itemsFile !== undefined) vocabularies.set(cacheKey, vocabulary);
  return vocabulary;
}

/** The network of the stage's parameters, its weights drawn from `seed` as the models draw them. */
function createNetwork(p: GraphTrainingParams, nItems: number): GraphNetwork {
  const gat = p.model === 'gat';
  const net = GraphNetwork.create({
    aggregator: gat ? 'attention' : 'mean',
    dim: p.dim,
    heads: gat ? p.heads : 1,
    nItems,
    maxNeighbours: p.fanout1 === 0 ? p.maxUserItems : Math.min(p.fanout1, p.maxUserItems),
    fanout2: p.fanout2,
    maxTargets: p.maxUserItems,
    maxEmbedItems: p.maxUserItems,
    tied: p.tied,
    userScale: p.userScale,
    temperature: p.temperature,
    itemBias: p.itemBias,
    maskInputs: p.maskInputs && p.targets === 'dropped',
  });
  if (net === null)
    throw new InvalidArgumentError(
      'graphTraining.kernel',
      'the graph models need the WebAssembly kernel: run "npm run build:wasm"',
    );
  const rng = new Random(p.seed);
  const init = (name: 'E' | 'Q' | 'W1' | 'W2' | 'al1' | 'ar1' | 'al2' | 'ar2', std: number) =>
    rng.fillGaussian(net.param(name), std);
  init('E', p.initStd);
  if (!p.tied) init('Q', p.initStd);
  init('W1', 0.5 / Math.sqrt(p.dim));
  init('W2', 0.5 / Math.sqrt(p.dim));
  for (const name of ['al1', 'ar1', 'al2', 'ar2'] as const)
    init(name, gat ? p.attentionInitStd : 0);
  return net;
}

/** Builds preprocess's records: sampled sub-graphs and users to embed, `batchSize` a record. */
class BatchBuilder {
  private sizes: number[] = [];
  private items: number[] = [];
  private userIds: ExternalId[] = [];
  private userOffsets: number[] = [0];
  private userItems: number[] = [];
  private seq = 0;
  private readonly neighbours: Int32Array;
  private readonly targets: Int32Array;

  constructor(
    private readonly p: GraphTrainingParams,
    private readonly rng: Random,
    private readonly keyPrefix: string,
    private readonly reservoir: HopReservoir | null,
  ) {
    const cap = p.fanout1 === 0 ? p.maxUserItems : Math.min(p.fanout1, p.maxUserItems);
    this.neighbours = new Int32Array(cap);
    this.targets = new Int32Array(p.maxUserItems);
  }

  /** Samples a user's step (and, with `andUser`, keeps the user to embed); yields full batches. */
  *add(
    user: ExternalId,
    all: readonly number[],
    epoch: number,
    andUser = true,
  ): Generator<GraphTrainingRecord> {
    if (all.length === 0) return;
    const m = Math.min(all.length, this.p.maxUserItems);
    const items = Int32Array.from(all);
    // A heavier user: a uniform sample of maxUserItems of its items (a partial shuffle).
    for (let i = 0; i < m && m < items.length; i++) {
      const j = i + this.rng.nextInt(items.length - i);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    const { n, nt } = drawStep(
      items.subarray(0, m),
      this.rng,
      this.p,
      this.neighbours,
      this.targets,
    );
    this.sizes.push(n, nt, m);
    for (let x = 0; x < n; x++) this.items.push(this.neighbours[x]);
    for (let x = 0; x < nt; x++) this.items.push(this.targets[x]);
    if (this.reservoir !== null)
      for (let x = 0; x < n; x++) this.reservoir.pushHops(this.neighbours[x], this.items);
    if (this.sizes.length / 3 >= this.p.batchSize) yield this.takeBatch(epoch);
    if (andUser) yield* this.addUser(user, all);
  }

  /** Keeps a user to embed: its last `maxUserItems` items, as serving's embedding uses. */
  *addUser(user: ExternalId, all: readonly number[]): Generator<GraphTrainingRecord> {
    if (!this.p.embedUsers) return;
    this.userIds.push(user);
    for (let x = Math.max(0, all.length - this.p.maxUserItems); x < all.length; x++)
      this.userItems.push(all[x]);
    this.userOffsets.push(this.userItems.length);
    if (this.userIds.length >= 1024) yield this.takeUsers();
  }

  /** Yields what is left: the last batch of `epoch`, and (unless `andUsers` is false) users. */
  *flush(epoch: number, andUsers = true): Generator<GraphTrainingRecord> {
    if (this.sizes.length > 0) yield this.takeBatch(epoch);
    if (andUsers && this.userIds.length > 0) yield this.takeUsers();
  }

  private takeBatch(epoch: number): GraphTrainingBatch {
    const batch: GraphTrainingBatch = {
      kind: 'batch',
      key: `${this.keyPrefix}${this.seq++}`,
      epoch,
      sizes: Int32Array.from(this.sizes),
      items: Int32Array.from(this.items),
    };
    this.sizes = [];
    this.items = [];
    return batch;
  }

  private takeUsers(): GraphUserBatch {
    const batch: GraphUserBatch = {
      kind: 'users',
      key: `${this.keyPrefix}${this.seq++}`,
      ids: this.userIds,
      offsets: Int32Array.from(this.userOffsets),
      items: Int32Array.from(this.userItems),
    };
    this.userIds = [];
    this.userOffsets = [0];
    this.userItems = [];
    return batch;
  }
}

/** One sampled sub-graph, pointing into the record that carried it. */
interface Sample {
  epoch: number;
  n: number;
  nt: number;
  total: number;
  items: Int32Array;
  at: number;
}

/** Records a rank reads ahead of its training while it is busy (not waiting in a collective). */
const READ_AHEAD = 16;

/**
 * Main's input as single sub-graphs; user batches go to the {@link UserStore} on the way. A pump
 * reads the input ahead: up to {@link READ_AHEAD} records while this rank trains, and without
 * limit while it waits in a collective ({@link SampleQueue.waiting}). Without that a rank
 * waiting for another could leave its input queue full, stalling the preprocess worker that
 * the other rank waits on (a deadlock once a shuffle deals one rank many records in a row).
 */
class SampleQueue {
  private readonly ahead: GraphTrainingBatch[] = [];
  private batch: GraphTrainingBatch | null = null;
  private index = 0;
  private at = 0;
  private done = false;
  private failure: unknown = null;
  private wakeReader: (() => void) | null = null;
  private wakePump: (() => void) | null = null;
  private inCollective = false;

  constructor(
    input: AsyncIterator<GraphTrainingRecord>,
    private readonly users: UserStore,
    private readonly hops: GraphHopsRecord[],
    private readonly fanout2: number,
  ) {
    void this.pump(input);
  }

  /** Runs `collective` with the read-ahead limit lifted. */
  async waiting<T>(collective: Promise<T>): Promise<T> {
    this.inCollective = true;
    this.wake('pump');
    try {
      return await collective;
    } finally {
      this.inCollective = false;
    }
  }

  private wake(who: 'pump' | 'reader'): void {
    const f = who === 'pump' ? this.wakePump : this.wakeReader;
    if (who === 'pump') this.wakePump = null;
    else this.wakeReader = null;
    f?.();
  }

  private async pump(input: AsyncIterator<GraphTrainingRecord>): Promise<void> {
    try {
      for (;;) {
        while (this.ahead.length >= READ_AHEAD && !this.inCollective)
          await new Promise<void>((resolve) => {
            this.wakePump = resolve;
          });
        const step = await input.next();
        if (step.done === true) break;
        if (step.value.kind === 'users') this.users.add(step.value);
        else if (step.value.kind === 'hops') this.hops.push(step.value);
        else this.ahead.push(step.value);
        this.wake('reader');
      }
    } catch (error) {
      this.failure = error ?? new Error('input failed');
    }
    this.done = true;
    this.wake('reader');
  }

  /** The next sub-graph; null once the input is spent. */
  async next(): Promise<Sample | null> {
    while (this.batch === null || this.index * 3 >= this.batch.sizes.length) {
      const record = this.ahead.shift();
      if (record !== undefined) {
        this.wake('pump');
        this.batch = record;
        this.index = 0;
        this.at = 0;
        continue;
      }
      if (this.failure !== null) throw this.failure;
      if (this.done) return null;
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
    }
    const { sizes, items, epoch } = this.batch;
    const k = this.index++ * 3;
    const sample = {
      epoch,
      n: sizes[k],
      nt: sizes[k + 1],
      total: sizes[k + 2],
      items,
      at: this.at,
    };
    this.at += sample.n * (1 + this.fanout2) + sample.nt;
    return sample;
  }
}

/** Users' item lists, kept compactly (int32) until the model is trained. */
class UserStore {
  readonly ids: ExternalId[] = [];
  private offsets: Int32Array = new Int32Array(1024);
  private items: Int32Array = new Int32Array(16_384);

  get size(): number {
    return this.ids.length;
  }

  add(batch: GraphUserBatch): void {
    const base = this.offsets[this.ids.length];
    const need = base + batch.items.length;
    if (need > this.items.length) this.items = grow(this.items, need);
    this.items.set(batch.items, base);
    if (this.ids.length + batch.ids.length + 1 > this.offsets.length)
      this.offsets = grow(this.offsets, this.ids.length + batch.ids.length + 1);
    for (let k = 0; k < batch.ids.length; k++) {
      this.offsets[this.ids.length + 1] = base + batch.offsets[k + 1];
      this.ids.push(batch.ids[k]);
    }
  }

  itemsOf(u: number): Int32Array {
    return this.items.subarray(this.offsets[u], this.offsets[u + 1]);
  }
}

/** A copy of `a` with room for at least `n` values (doubling). */
function grow(a: Int32Array, n: number): Int32Array {
  const out = new Int32Array(Math.max(n, a.length * 2));
  out.set(a);
  return out;
}

/**
 * Second hops of every item, sampled while the log streams by: per item i and slot s, a reservoir
 * of one (user, item) draw over the users having i read so far, each slot independently. When the
 * k-th user of i arrives, slot s takes one of that user's items drawn uniformly with probability
 * 1/k, so at any moment a slot holds an item of a uniformly drawn user of i, uniformly drawn
 * among that user's items: the distribution of `NeighbourSampler.secondHops` over the users read
 * (i itself while i has none). Instead of a coin per slot and user, each slot keeps the arrival
 * at which it next takes a draw (after arrival k, arrival m > k leaves it untouched with
 * probability k/m, so next = ⌊k/U⌋ + 1 with U uniform in (0, 1]), and each item the earliest of
 * its slots': a user costs one comparison per item, plus the draws of the slots it replaces
 * (S2·ln(users of i) per item over the log). Memory: items × S2 × 12 bytes plus items × 12.
 *
 * Reservoirs of several partitions merge slot by slot ({@link mergeHops}): partition p's draw
 * replaces the merged one with probability counts_p(i) / (counts of i so far), which is again a
 * uniform draw over all of i's users.
 */
export class HopReservoir {
  private readonly slots: Int32Array;
  private readonly nextAt: Float64Array;
  private readonly counts: Int32Array;
  private readonly earliest: Float64Array;
  private readonly rng: Random;

  constructor(
    private readonly nItems: number,
    private readonly fanout2: number,
    seed: number,
  ) {
    this.slots = new Int32Array(nItems * fanout2);
    this.nextAt = new Float64Array(nItems * fanout2);
    this.counts = new Int32Array(nItems);
    this.earliest = new Float64Array(nItems);
    this.rng = new Random(seed);
    this.reset();
  }

  /** Forgets every user read (the random stream goes on). */
  reset(): void {
    const S2 = this.fanout2;
    for (let i = 0; i < this.nItems; i++) this.slots.fill(i, i * S2, (i + 1) * S2);
    this.nextAt.fill(1);
    this.counts.fill(0);
    this.earliest.fill(1);
  }

  /** Offers one user's items (dense indices, all of them) to the reservoirs of its items. */
  addUser(items: ArrayLike<number>): void {
    const m = items.length;
    const S2 = this.fanout2;
    const { slots, nextAt, counts, earliest, rng } = this;
    for (let x = 0; x < m; x++) {
      const i = items[x];
      const k = ++counts[i];
      if (k < earliest[i]) continue;
      let soonest = Number.POSITIVE_INFINITY;
      for (let o = i * S2; o < (i + 1) * S2; o++) {
        if (nextAt[o] === k) {
          slots[o] = items[rng.nextInt(m)];
          nextAt[o] = Math.floor(k / (1 - rng.next())) + 1;
        }
        if (nextAt[o] < soonest) soonest = nextAt[o];
      }
      earliest[i] = soonest;
    }
  }

  /** Appends item i's `fanout2` second hops to `out`. */
  pushHops(i: number, out: number[]): void {
    for (let o = i * this.fanout2; o < (i + 1) * this.fanout2; o++) out.push(this.slots[o]);
  }

  /** The reservoirs as a record for main (copies: the reservoir may go on). */
  record(part: string): GraphHopsRecord {
    return {
      kind: 'hops',
      key: 'hops',
      part,
      counts: Int32Array.from(this.counts),
      slots: Int32Array.from(this.slots),
    };
  }
}

/**
 * One table of `fanout2` second hops per item from the partitions' reservoirs (taken in the
 * order of their `part`, the merge's draws from `seed`): each slot a draw over every partition's
 * users of the item, as {@link HopReservoir} describes.
 */
export function mergeHops(
  records: readonly GraphHopsRecord[],
  nItems: number,
  fanout2: number,
  seed: number,
): Int32Array {
  const sorted = [...records].sort((a, b) => (a.part < b.part ? -1 : a.part > b.part ? 1 : 0));
  const out = new Int32Array(nItems * fanout2);
  for (let i = 0; i < nItems; i++) out.fill(i, i * fanout2, (i + 1) * fanout2);
  if (sorted.length === 0) return out;
  for (const r of sorted)
    if (r.counts.length !== nItems || r.slots.length !== nItems * fanout2)
      throw new InvalidArgumentError(
        'graphTraining.hops',
        `a partition's reservoirs are not ${nItems} items × ${fanout2}`,
      );
  if (sorted.length === 1) {
    out.set(sorted[0].slots);
    return out;
  }
  const rng = new Random(mixSeed(seed, 0x686f7073, sorted.length));
  for (let i = 0; i < nItems; i++) {
    let seen = 0;
    for (const r of sorted) {
      const c = r.counts[i];
      if (c === 0) continue;
      seen += c;
      for (let o = i * fanout2; o < (i + 1) * fanout2; o++)
        if (c === seen || rng.nextInt(seen) < c) out[o] = r.slots[o];
    }
  }
  return out;
}
