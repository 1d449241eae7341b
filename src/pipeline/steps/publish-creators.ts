/**
 * Creator lists the publish step writes (issue 22): user → creators and creator → related
 * creators, from the catalogue's `creator` column. See `serving/list-names.ts`.
 *
 * @module
 */
import type { StepContext } from './pipeline-step.js';
import type { PublishedList, PublishInputs } from './publish-catalogue.js';

/**
 * The creator lists for a version (nothing without `data.items.creator`).
 * TODO(issue 22): not yet written.
 */
export async function* creatorLists(
  _ctx: StepContext,
  _inputs: PublishInputs,
): AsyncGenerator<PublishedList> {}
