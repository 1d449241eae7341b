/**
 * Creator lists the publish step writes (issue 22): user → creators and creator → related
 * creators, from the catalogue's `creator` column. See `storage/serving-lists.ts`.
 *
 * @module
 */
import { readItemCatalogue } from '../../data/item-catalogue.js';
import { readInteractionLog } from '../../data/read-interaction-log.js';
import type { PackedScores } from '../../models/creators/creator-lists.js';
import { creatorRecommendations } from '../../models/creators/creator-recommendations.js';
import type { ScoredItem } from '../../storage/serving-store.js';
import {
  POPULAR_CREATORS_LIST,
  RELATED_CREATORS_LIST,
  USER_CREATORS_LIST,
} from '../../storage/serving-lists.js';
import { type StepContext, stepLogger } from './pipeline-step.js';
import type { PublishedList, PublishInputs } from './publish-catalogue.js';
import { INTERACTION_COLUMNS, requireInput } from './work-files.js';

/**
 * The creator lists for a version (nothing without `data.items.creator`), made by
 * `creatorRecommendations` (`models/creators/creator-recommendations.ts`) from the catalogue's
 * creator of each model item, the candidates' user and related lists and the aggregated training
 * interactions of the work directory (`interactions.parquet`, written by aggregate):
 * - {@link USER_CREATORS_LIST}: training user id → at most `candidates.users` creators, best
 *   first: the user's candidate items aggregated per creator (max-scaled scores summed per
 *   creator, over the square root of the creator's item count), blended half and half with a
 *   creator-kNN score for users with direct creator interactions (an event whose item id is a
 *   creator's name and not an item of the table: follow, support, play of the creator), and
 *   never a creator the user already touched, through an item or directly. Users left with no
 *   creator get no list.
 * - {@link RELATED_CREATORS_LIST}: creator name → at most `candidates.related` other creators:
 *   its items' related lists aggregated per creator, blended half and half with creator cosine
 *   over the users who touched each.
 * - {@link POPULAR_CREATORS_LIST}: `all` → at most `candidates.popular` creators by the number
 *   of users who touched them.
 *
 * Creator ids in the lists are the catalogue's creator values (strings).
 */
export async function* creatorLists(
  ctx: StepContext,
  inputs: PublishInputs,
): AsyncGenerator<PublishedList> {
  const table = ctx.config.data.items;
  if (table?.creator === undefined) return;
  const catalogue = await readItemCatalogue(
    table.table,
    { ...(table.id === undefined ? {} : { id: table.id }), creator: table.creator },
    inputs.items,
  );
  ctx.signal?.throwIfAborted();
  const log = await readInteractionLog(await requireInput(ctx.workDir, 'interactions'), {
    columns: INTERACTION_COLUMNS,
    idType: 'string',
  });
  ctx.signal?.throwIfAborted();
  // Pairs of users or items the model dropped (too few interactions) are left out.
  const users = inputs.users.indexColumn(log.users);
  const items = inputs.items.indexColumn(log.items);
  const keep: number[] = [];
  for (let r = 0; r < log.rows; r++) if (users[r] >= 0 && items[r] >= 0) keep.push(r);
  const pairs = {
    users: Int32Array.from(keep, (r) => users[r]),
    items: Int32Array.from(keep, (r) => items[r]),
    values: log.values === null ? null : Float32Array.from(keep, (r) => log.values![r]),
  };
  const made = creatorRecommendations(
    {
      creators: catalogue.creators,
      itemIds: Array.from({ length: inputs.items.size }, (_, i) => String(inputs.items.idAt(i))),
      pairs,
      users: inputs.users.size,
      userLists: inputs.candidates.user,
      relatedLists: inputs.candidates.related,
    },
    {
      userK: ctx.config.candidates.users,
      relatedK: ctx.config.candidates.related,
      popularK: ctx.config.candidates.popular,
    },
  );
  const names = made.index.names;
  stepLogger(ctx).info(
    {
      step: 'publish',
      creators: names.length,
      catalogueRows: catalogue.matched,
      directCreatorPairs: made.directPairs,
    },
    `publish: ${names.length} creators of ${catalogue.matched} catalogue items (${made.directPairs} direct creator interactions)`,
  );
  yield [
    USER_CREATORS_LIST,
    creatorEntries(made.users, (u) => String(inputs.users.idAt(u)), names),
  ] as const;
  yield [RELATED_CREATORS_LIST, creatorEntries(made.related, (c) => names[c], names)] as const;
  yield [POPULAR_CREATORS_LIST, creatorEntries(made.popular, () => 'all', names)] as const;
}

/** Non-empty packed creator lists as (key, scored creator names) pairs, produced lazily. */
function* creatorEntries(
  lists: PackedScores,
  key: (q: number) => string,
  names: readonly string[],
): Generator<[string, ScoredItem[]]> {
  const { offsets, ids, scores } = lists;
  for (let q = 0; q < offsets.length - 1; q++) {
    if (offsets[q + 1] === offsets[q]) continue;
    const out: ScoredItem[] = [];
    for (let r = offsets[q]; r < offsets[q + 1]; r++)
      out.push({ id: names[ids[r]], score: scores[r] });
    yield [key(q), out];
  }
}
