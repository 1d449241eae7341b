/**
 * Lists the publish step writes from the item catalogue (issue 22): category-popular lists, each
 * item's categories, the retired set, and each user's training items for explanations. See
 * `storage/serving-lists.ts`.
 *
 * @module
 */
import { stat } from 'node:fs/promises';
import type { ExternalId, IdMap } from '../../data/id-map.js';
import { readItemCatalogue } from '../../data/item-catalogue.js';
import type { ScoredItem } from '../../storage/serving-store.js';
import {
  CATEGORY_POPULAR_LIST,
  ITEM_CATEGORIES_LIST,
  RETIRED_LIST,
  USER_HISTORY_LIST,
} from '../../storage/serving-lists.js';
import type { PackedLists } from './candidate-lists.js';
import { type StepContext, stepLogger } from './pipeline-step.js';
import { workPath } from './work-files.js';

/** One extra list of a version: its name and its entries. */
export type PublishedList = readonly [
  list: string,
  entries: Iterable<readonly [key: ExternalId, items: readonly ScoredItem[]]>,
];

/** What the extra lists are made from: the model's id maps and the candidate lists. */
export interface PublishInputs {
  users: IdMap;
  items: IdMap;
  candidates: { user: PackedLists; related: PackedLists; popular: PackedLists };
}

/** Most training items kept per user in {@link USER_HISTORY_LIST} (the most recent). */
export const USER_HISTORY_CAP = 200;

/** What the work directory's interactions say: each item's users, each user's recent items. */
interface TrainingSummary {
  /** Distinct users per dense item. */
  itemUsers: Float64Array;
  /** Per dense user: dense items, most recent first, at most {@link USER_HISTORY_CAP}. */
  history: Map<number, { item: number; count: number }[]>;
}

/**
 * The extra lists of a version:
 * - {@link USER_HISTORY_LIST} (always, when the run's `interactions.parquet` is in the work
 *   directory): each model user's training items, most recent first (ties: most interactions,
 *   then id), at most {@link USER_HISTORY_CAP}, scored by their interaction count;
 * - with `data.items`: {@link CATEGORY_POPULAR_LIST} (each category's items, retired ones left
 *   out, most popular first: distinct training users, ties to the lower dense id; from the
 *   candidates' popular list when the interactions file is gone), {@link ITEM_CATEGORIES_LIST}
 *   (each categorised item's categories, score 1) and {@link RETIRED_LIST} (`all` → the retired
 *   items, score 0).
 */
export async function* catalogueLists(
  ctx: StepContext,
  inputs: PublishInputs,
): AsyncGenerator<PublishedList> {
  const summary = await readTrainingSummary(ctx, inputs);
  if (summary !== null) yield [USER_HISTORY_LIST, historyEntries(summary, inputs)];
  const table = ctx.config.data.items;
  if (table === undefined) return;
  const catalogue = await readItemCatalogue(
    table.table,
    {
      ...(table.id === undefined ? {} : { id: table.id }),
      ...(table.category === undefined ? {} : { category: table.category }),
      categorySeparator: table.categorySeparator,
      ...(table.retired === undefined ? {} : { retired: table.retired }),
    },
    inputs.items,
  );
  ctx.signal?.throwIfAborted();
  const { items } = inputs;
  const popularity = summary?.itemUsers ?? popularityFromCandidates(inputs);
  const order = Int32Array.from({ length: items.size }, (_, i) => i).sort(
    (a, b) => popularity[b] - popularity[a] || a - b,
  );
  const byCategory = new Map<string, ScoredItem[]>();
  for (const i of order) {
    if (catalogue.retired[i] === 1) continue;
    for (const category of catalogue.categories[i]) {
      let list = byCategory.get(category);
      if (list === undefined) byCategory.set(category, (list = []));
      list.push({ id: items.idAt(i), score: popularity[i] });
    }
  }
  yield [CATEGORY_POPULAR_LIST, byCategory];
  yield [
    ITEM_CATEGORIES_LIST,
    (function* () {
      for (let i = 0; i < items.size; i++)
        if (catalogue.categories[i].length > 0)
          yield [
            String(items.idAt(i)),
            catalogue.categories[i].map((c) => ({ id: c, score: 1 })),
          ] as const;
    })(),
  ];
  const retired: ScoredItem[] = [];
  for (let i = 0; i < items.size; i++)
    if (catalogue.retired[i] === 1) retired.push({ id: items.idAt(i), score: 0 });
  yield [RETIRED_LIST, [['all', retired]]];
  stepLogger(ctx).info(
    {
      step: 'publish',
      catalogueRows: catalogue.matched,
      categories: byCategory.size,
      retired: retired.length,
    },
    `publish: catalogue of ${catalogue.matched} items, ${byCategory.size} categories, ${retired.length} retired`,
  );
}

/** Scores of the candidates' popular list by dense item (0 for the rest). */
function popularityFromCandidates(inputs: PublishInputs): Float64Array {
  const out = new Float64Array(inputs.items.size);
  const { ids, scores } = inputs.candidates.popular;
  for (let r = 0; r < ids.length; r++) out[ids[r]] = scores[r];
  return out;
}

/** {@link USER_HISTORY_LIST} entries: keyed by the user's external id as text. */
function* historyEntries(
  summary: TrainingSummary,
  { users, items }: PublishInputs,
): Generator<readonly [ExternalId, ScoredItem[]]> {
  for (const [u, list] of summary.history)
    yield [
      String(users.idAt(u)),
      list.map(({ item, count }) => ({ id: items.idAt(item), score: count })),
    ];
}

/**
 * Reads the run's `interactions.parquet` (aggregate's output, what train fitted on) for item
 * popularity and each user's recent items, on the model's dense ids; null when the file is not
 * in the work directory (the lists that need it are then skipped or derived otherwise).
 */
async function readTrainingSummary(
  ctx: StepContext,
  { users, items }: PublishInputs,
): Promise<TrainingSummary | null> {
  const path = workPath(ctx.workDir, 'interactions');
  if ((await stat(path).catch(() => null)) === null) {
    stepLogger(ctx).warn(
      { step: 'publish', file: path },
      'publish: no interactions file in the work directory; user histories are not published',
    );
    return null;
  }
  const [{ DuckDBInstance }, { sqlLiteral }] = await Promise.all([
    import('@duckdb/node-api'),
    import('../../data/duckdb-sql.js'),
  ]);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  try {
    const source = `read_parquet(${sqlLiteral(path)})`;
    const pairs = `SELECT CAST("user" AS VARCHAR) AS u, CAST(item AS VARCHAR) AS i, count(*) AS n, max("timestamp") AS t FROM ${source} GROUP BY 1, 2`;
    const rows = (
      await con.runAndReadAll(
        `SELECT u, i, CAST(n AS DOUBLE) FROM (SELECT *, row_number() OVER (PARTITION BY u ORDER BY t DESC NULLS LAST, n DESC, i) AS r FROM (${pairs})) WHERE r <= ${USER_HISTORY_CAP} ORDER BY u, r`,
      )
    ).getRowsJS() as [string, string, number][];
    const counts = (
      await con.runAndReadAll(
        `SELECT CAST(item AS VARCHAR), CAST(count(DISTINCT "user") AS DOUBLE) FROM ${source} GROUP BY 1`,
      )
    ).getRowsJS() as [string, number][];
    const itemUsers = new Float64Array(items.size);
    for (const [id, n] of counts) {
      const i = items.indexOf(id);
      if (i >= 0) itemUsers[i] = n;
    }
    const history = new Map<number, { item: number; count: number }[]>();
    for (const [userId, itemId, n] of rows) {
      const u = users.indexOf(userId);
      const i = items.indexOf(itemId);
      if (u < 0 || i < 0) continue;
      let list = history.get(u);
      if (list === undefined) history.set(u, (list = []));
      list.push({ item: i, count: n });
    }
    return { itemUsers, history };
  } finally {
    con.closeSync();
    instance.closeSync();
  }
}
