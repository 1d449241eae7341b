/**
 * The names of the lists a published serving version holds (issue 22): what the publish step
 * writes and the recommendation routes read, in one place (in storage/, which both may import).
 *
 * @module
 */

/** User id → recommended items. */
export const USER_LIST = 'user';
/** Item id → related items. */
export const RELATED_LIST = 'related';
/** `all` → the most popular items. */
export const POPULAR_LIST = 'popular';
/** Category → the category's most popular items (from the catalogue's `category` column). */
export const CATEGORY_POPULAR_LIST = 'category-popular';
/** Item id → its categories, as entries `{ id: category, score: 1 }`. */
export const ITEM_CATEGORIES_LIST = 'item-categories';
/** `all` → the retired items (score 0): never served. */
export const RETIRED_LIST = 'retired';
/** User id → the user's training items, most recent or heaviest first (for `?explain=true`). */
export const USER_HISTORY_LIST = 'user-history';
/** User id → recommended creators. */
export const USER_CREATORS_LIST = 'user-creators';
/** Creator id → related creators. */
export const RELATED_CREATORS_LIST = 'related-creators';
/** `all` → the creators the most training users touched, scored by that count (users without a creator list). */
export const POPULAR_CREATORS_LIST = 'popular-creators';

/**
 * The sources of a service's fallback chain, in the default order: the user's own list
 * ({@link USER_LIST}), items related to the user's recent ones ({@link RELATED_LIST}), the
 * category's popular items ({@link CATEGORY_POPULAR_LIST}), the popular items ({@link POPULAR_LIST}).
 */
export const RECOMMEND_SOURCES = [
  'personal',
  'related-to-recent',
  'category-popular',
  'popular',
] as const;
/** One of {@link RECOMMEND_SOURCES}. */
export type RecommendSource = (typeof RECOMMEND_SOURCES)[number];
