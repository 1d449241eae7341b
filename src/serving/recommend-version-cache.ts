/**
 * What the recommendation routes keep per published version and process (issue 22): the retired
 * set, the popular list and the category-popular lists, each read once per version rather than
 * per request.
 *
 * @module
 */
import type { ScoredItem, ServingStore } from '../storage/serving-store.js';
import { CATEGORY_POPULAR_LIST, POPULAR_LIST, RETIRED_LIST } from '../storage/serving-lists.js';

/** Most category lists kept per version (the least recently used one goes first). */
export const MAX_CACHED_CATEGORIES = 256;

/** One published version's cached lists. */
export class VersionLists {
  readonly version: string;
  readonly #serving: Pick<ServingStore, 'getList'>;
  #retired: Promise<ReadonlySet<string>> | null = null;
  #popular: Promise<readonly ScoredItem[]> | null = null;
  readonly #categories = new Map<string, Promise<CategoryList>>();

  constructor(serving: Pick<ServingStore, 'getList'>, version: string) {
    this.#serving = serving;
    this.version = version;
  }

  /** The version's retired items (empty when it has none). */
  retired(): Promise<ReadonlySet<string>> {
    this.#retired ??= this.#read(RETIRED_LIST, 'all').then(
      (items) => new Set(items.map((i) => String(i.id))),
    );
    return this.#retired;
  }

  /** The version's popular list, whole. */
  popular(): Promise<readonly ScoredItem[]> {
    this.#popular ??= this.#read(POPULAR_LIST, 'all');
    return this.#popular;
  }

  /** The items of `category`, most popular first, and the set of them. */
  category(category: string): Promise<CategoryList> {
    let found = this.#categories.get(category);
    if (found !== undefined) {
      // Refresh its place: the map's order is the use order.
      this.#categories.delete(category);
      this.#categories.set(category, found);
      return found;
    }
    found = this.#read(CATEGORY_POPULAR_LIST, category).then((items) => ({
      items,
      ids: new Set(items.map((i) => String(i.id))),
    }));
    this.#categories.set(category, found);
    if (this.#categories.size > MAX_CACHED_CATEGORIES)
      this.#categories.delete(this.#categories.keys().next().value as string);
    return found;
  }

  async #read(list: string, key: string): Promise<ScoredItem[]> {
    try {
      return (await this.#serving.getList(list, key, { version: this.version })) ?? [];
    } catch (error) {
      // A failed read is not cached: the next request tries again.
      if (list === RETIRED_LIST) this.#retired = null;
      else if (list === POPULAR_LIST) this.#popular = null;
      else this.#categories.delete(key);
      throw error;
    }
  }
}

/** A category's items, most popular first, and their ids as a set. */
export interface CategoryList {
  items: readonly ScoredItem[];
  ids: ReadonlySet<string>;
}

/** The {@link VersionLists} of the versions a process has met: the latest two are kept. */
export class VersionListsCache {
  readonly #serving: Pick<ServingStore, 'getList'>;
  #latest: VersionLists | null = null;
  #previous: VersionLists | null = null;

  constructor(serving: Pick<ServingStore, 'getList'>) {
    this.#serving = serving;
  }

  /** The version the last request was answered from, if any. */
  get latest(): string | null {
    return this.#latest?.version ?? null;
  }

  /** The cached lists of `version`, made on first use. */
  of(version: string): VersionLists {
    if (this.#latest?.version === version) return this.#latest;
    if (this.#previous?.version === version) {
      // Back to the previous version (a rollback): it is the one to pin reads to again.
      [this.#latest, this.#previous] = [this.#previous, this.#latest];
      return this.#latest!;
    }
    this.#previous = this.#latest;
    this.#latest = new VersionLists(this.#serving, version);
    return this.#latest;
  }
}
