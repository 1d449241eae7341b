/**
 * Lists the publish step writes from the item catalogue (issue 22): category-popular lists, each
 * item's categories, the retired set, and each user's training items for explanations. See
 * `serving/list-names.ts`.
 *
 * @module
 */
import type { IdMap } from '../../data/id-map.js';
import type { ExternalId } from '../../data/id-map.js';
import type { ScoredItem } from '../../storage/serving-store.js';
import type { PackedLists } from './candidate-lists.js';
import type { StepContext } from './pipeline-step.js';

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

/**
 * The catalogue's lists for a version (nothing without `data.items`).
 * TODO(issue 22): not yet written.
 */
export async function* catalogueLists(
  _ctx: StepContext,
  _inputs: PublishInputs,
): AsyncGenerator<PublishedList> {}
