/**
 * The recommendation engine behind the routes (issue 22): the fallback chain (personal →
 * related-to-recent → category-popular → popular, configured per service), the filters (category,
 * excluded ids, hidden and just-seen items, retired items), pagination over the merged sequence,
 * and per-item explanations.
 *
 * One request reads, in parallel, the current version's pointer, the user's own list (pinned to
 * the version the process last saw) and the user's hidden and seen items; the retired set, the
 * popular list and category lists are read once per version and process
 * ({@link VersionListsCache}). Later sources are read only when the earlier ones leave the page
 * short.
 *
 * @module
 */
import { InvalidArgumentError, NotFoundError, NotReadyError } from '../core/errors.js';
import type { ScoredItem, ServingStore } from '../storage/serving-store.js';
import type { UserExclusions, UserStateStore } from '../storage/user-state-store.js';
import {
  RECOMMEND_SOURCES,
  RELATED_LIST,
  type RecommendSource,
  USER_HISTORY_LIST,
  USER_LIST,
} from '../storage/serving-lists.js';
import { VersionListsCache } from './recommend-version-cache.js';

export { RECOMMEND_SOURCES, type RecommendSource };

/** The default fallback chain of a user's recommendations. */
export const DEFAULT_FALLBACK_CHAIN: readonly RecommendSource[] = RECOMMEND_SOURCES;

/** Options of a service's recommendations (`ServiceServing`'s `recommend`). */
export interface RecommendOptions {
  /**
   * The sources of a user's recommendations, in order: each fills what the ones before left of
   * the page. `category-popular` answers only with `?category`. Session recommendations use the
   * same chain without `personal`. @defaultValue {@link DEFAULT_FALLBACK_CHAIN}
   */
  chain?: readonly RecommendSource[];
  /** How many of the user's recent items seed `related-to-recent` (and explanations). @defaultValue 10 */
  recentItems?: number;
  /** Related items read per seed. @defaultValue 50 */
  relatedPerItem?: number;
  /** How many times the page (offset + k) a filtered read fetches. @defaultValue 3 */
  overfetch?: number;
}

/** One reason for a recommended item: an item of the user's that led to it, and how strongly. */
export interface RecommendReason {
  item: string;
  score: number;
}

/** One recommended item. */
export interface RecommendedItem {
  id: string;
  score: number;
  source: RecommendSource;
  /** With `explain`: the user's items that contributed most, strongest first. */
  explain?: { reasons: RecommendReason[] };
}

/** What one request asks. */
export interface RecommendRequest {
  /** The user, or null for session recommendations. */
  user: string | null;
  /** Session recommendations: the recent items, newest first. */
  session?: readonly string[];
  k: number;
  offset: number;
  category?: string;
  exclude?: readonly string[];
  explain?: boolean;
}

/** What the engine answers. */
export interface RecommendAnswer {
  items: RecommendedItem[];
  /** True when the user's own list (or the session's related items) gave nothing. */
  fallback: boolean;
  /** The version answered from. */
  version: string;
}

/**
 * Where a user's fresh (post-batch) recommendations come from, when the service re-embeds users:
 * null unless the model it holds is the one `version` (the version this request reads) names.
 */
export type FreshSource = (
  user: string,
  k: number,
  version: string,
) => Promise<ScoredItem[] | null>;

const NO_EXCLUSIONS: UserExclusions = { hidden: new Set(), seen: [] };
const MAX_REASONS = 3;
/** Most of a user's training items read (to leave out of fallbacks, and to explain). */
const HISTORY_READ = 200;

/** Checks a service's {@link RecommendOptions}; returns them with defaults. */
export function recommendOptions(options: RecommendOptions = {}): Required<RecommendOptions> {
  const chain = options.chain ?? DEFAULT_FALLBACK_CHAIN;
  chain.forEach((source, i) => {
    if (!RECOMMEND_SOURCES.includes(source))
      throw new InvalidArgumentError(
        `recommend.chain[${i}]`,
        `"${source}" is not a source; use ${RECOMMEND_SOURCES.join(', ')}`,
      );
  });
  if (new Set(chain).size !== chain.length)
    throw new InvalidArgumentError('recommend.chain', 'names a source twice');
  const positive = (field: keyof RecommendOptions, value: number): number => {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new InvalidArgumentError(`recommend.${field}`, `must be an integer ≥ 1, got ${value}`);
    return value;
  };
  return {
    chain,
    recentItems: positive('recentItems', options.recentItems ?? 10),
    relatedPerItem: positive('relatedPerItem', options.relatedPerItem ?? 50),
    overfetch: positive('overfetch', options.overfetch ?? 3),
  };
}

/** One service's recommendations: a fastify-free engine the routes call. */
export class RecommendEngine {
  readonly #serving: Pick<ServingStore, 'getList' | 'currentVersion'>;
  readonly #userState: Pick<UserStateStore, 'exclusions'> | undefined;
  readonly #fresh: FreshSource | undefined;
  readonly #options: Required<RecommendOptions>;
  readonly #versions: VersionListsCache;

  constructor(deps: {
    serving: Pick<ServingStore, 'getList' | 'currentVersion'>;
    userState?: Pick<UserStateStore, 'exclusions'>;
    fresh?: FreshSource;
    options?: RecommendOptions;
  }) {
    this.#serving = deps.serving;
    this.#userState = deps.userState;
    this.#fresh = deps.fresh;
    this.#options = recommendOptions(deps.options);
    this.#versions = new VersionListsCache(deps.serving);
  }

  /** The options in force. */
  get options(): Readonly<Required<RecommendOptions>> {
    return this.#options;
  }

  /**
   * A page of recommendations for a user (or a session): the first `offset + k` items of the
   * merged sequence of the chain's sources, filtered, with `offset` dropped.
   * @throws NotReadyError before anything is published.
   */
  async recommend(request: RecommendRequest): Promise<RecommendAnswer> {
    const { user, k, offset } = request;
    const need = offset + k;
    const filtered =
      request.category !== undefined || (request.exclude?.length ?? 0) > 0 || offset > 0;
    const chain =
      user === null ? this.#options.chain.filter((s) => s !== 'personal') : this.#options.chain;
    const wantsPersonal = user !== null && chain.includes('personal');
    // A category keeps an unknown share of the list: read it whole (lists are short; a second
    // round trip costs more than decoding them). Other filters over-fetch.
    const whole = request.category !== undefined;
    const firstRead = need * (filtered ? this.#options.overfetch : 1) + 8;
    const firstRange = whole ? {} : { limit: firstRead };

    // One round of parallel reads: the pointer, the user's own list (pinned to the version this
    // process last answered from) and the user's hidden and seen items.
    const pinned = this.#versions.latest;
    const [info, pinnedList, exclusions] = await Promise.all([
      this.#serving.currentVersion(),
      wantsPersonal && pinned !== null
        ? this.#readPinned(USER_LIST, user, pinned, firstRange)
        : undefined,
      user !== null && this.#userState !== undefined
        ? this.#userState.exclusions(user)
        : NO_EXCLUSIONS,
    ]);
    if (info === null) {
      // Nothing published: the plain reads (which fail as the store fails), then not ready.
      if (user !== null && (await this.#serving.getList(USER_LIST, user, { limit: 1 })) === null)
        await this.#serving.getList('popular', 'all', { limit: 1 });
      throw new NotReadyError('no recommendations are published yet');
    }
    const lists = this.#versions.of(info.version);
    const version = info.version;
    const [retired, category] = await Promise.all([
      lists.retired(),
      request.category === undefined ? null : lists.category(request.category),
    ]);

    const seen = new Set(exclusions.seen);
    const exclude = new Set(request.exclude ?? []);
    const taken = new Set<string>();
    const out: RecommendedItem[] = [];
    let history: string[] | null = null;
    let historySet: ReadonlySet<string> | null = null;
    const allows = (id: string): boolean =>
      !taken.has(id) &&
      !retired.has(id) &&
      !exclusions.hidden.has(id) &&
      !seen.has(id) &&
      !exclude.has(id) &&
      (category === null || category.ids.has(id)) &&
      (historySet === null || !historySet.has(id));
    /** Adds what passes the filters; true once the page is full. */
    const add = (items: readonly ScoredItem[], source: RecommendSource): boolean => {
      for (const item of items) {
        if (out.length >= need) return true;
        const id = typeof item.id === 'string' ? item.id : String(item.id);
        if (!allows(id)) continue;
        taken.add(id);
        out.push({ id, score: item.score, source });
      }
      return out.length >= need;
    };

    let fallback = true;
    const reasons = new Map<string, RecommendReason[]>();
    const readHistory = async (): Promise<string[]> => {
      if (history !== null || user === null) return history ?? [];
      const stored = await this.#serving.getList(USER_HISTORY_LIST, user, {
        version,
        limit: HISTORY_READ,
      });
      history = (stored ?? []).map((i) => String(i.id));
      historySet = new Set(history);
      return history;
    };
    for (const source of chain) {
      if (out.length >= need) break;
      // Past the user's own list, their training items are left out too (the list left them out).
      if (source !== 'personal' && user !== null) await readHistory();
      if (source === 'personal' && user !== null) {
        const fresh =
          this.#fresh === undefined
            ? null
            : await this.#fresh(user, whole ? Math.max(firstRead, 200) : firstRead, version);
        if (fresh !== null) {
          fallback = false;
          add(fresh, 'personal');
          continue;
        }
        let list =
          pinned === version && pinnedList !== undefined && pinnedList !== 'stale'
            ? pinnedList
            : await this.#serving.getList(USER_LIST, user, { version, ...firstRange });
        if (list === null) continue;
        fallback = false;
        if (!add(list, 'personal') && !whole && list.length >= firstRead) {
          // Filters left the page short: the rest of the list.
          list =
            (await this.#serving.getList(USER_LIST, user, { version, offset: firstRead })) ?? [];
          add(list, 'personal');
        }
      } else if (source === 'related-to-recent') {
        const recent =
          user === null
            ? [...(request.session ?? [])]
            : [...exclusions.seen, ...(await readHistory())];
        const seeds = [...new Set(recent)].slice(0, this.#options.recentItems);
        if (user === null) for (const s of request.session ?? []) taken.add(s);
        else for (const s of seeds) taken.add(s);
        const merged = await this.#related(version, seeds, reasons);
        if (merged.length > 0 && user === null) fallback = false;
        add(merged, 'related-to-recent');
      } else if (source === 'category-popular' && category !== null) {
        add(category.items, 'category-popular');
      } else if (source === 'popular') {
        add(await lists.popular(), 'popular');
      }
    }
    const page = out.slice(offset, need);
    if (request.explain === true)
      await this.#explain(page, version, reasons, user, exclusions, readHistory);
    return { items: page, fallback, version };
  }

  /**
   * Related items of `id`, filtered by the retired set (and `exclude`), at most `k`; null for an
   * item the published version does not know.
   */
  async related(
    id: string,
    k: number,
    exclude: readonly string[] = [],
  ): Promise<{ items: RecommendedItem[]; version: string } | null> {
    const info = await this.#serving.currentVersion();
    if (info === null) throw new NotReadyError('no recommendations are published yet');
    const lists = this.#versions.of(info.version);
    const [retired, list] = await Promise.all([
      lists.retired(),
      this.#serving.getList(RELATED_LIST, id, { version: info.version }),
    ]);
    if (list === null) return null;
    const skip = new Set(exclude);
    const items: RecommendedItem[] = [];
    for (const item of list) {
      if (items.length >= k) break;
      const itemId = String(item.id);
      if (retired.has(itemId) || skip.has(itemId)) continue;
      items.push({ id: itemId, score: item.score, source: 'personal' });
    }
    return { items, version: info.version };
  }

  /** The user's list pinned to `version`; 'stale' when that version is no longer held. */
  async #readPinned(
    list: string,
    key: string,
    version: string,
    range: { limit?: number },
  ): Promise<ScoredItem[] | null | 'stale'> {
    try {
      return await this.#serving.getList(list, key, { version, ...range });
    } catch (error) {
      if (error instanceof NotFoundError) return 'stale';
      throw error;
    }
  }

  /**
   * The related lists of `seeds`, merged: each item's score the sum of its scores over the seeds
   * (ties to the lower id), the seeds themselves left out; `reasons` gets each item's seeds.
   */
  async #related(
    version: string,
    seeds: readonly string[],
    reasons: Map<string, RecommendReason[]>,
  ): Promise<ScoredItem[]> {
    if (seeds.length === 0) return [];
    const lists = await Promise.all(
      seeds.map((seed) =>
        this.#serving.getList(RELATED_LIST, seed, { version, limit: this.#options.relatedPerItem }),
      ),
    );
    const sums = new Map<string, number>();
    const seedSet = new Set(seeds);
    lists.forEach((list, s) => {
      for (const item of list ?? []) {
        const id = String(item.id);
        if (seedSet.has(id)) continue;
        sums.set(id, (sums.get(id) ?? 0) + item.score);
        let why = reasons.get(id);
        if (why === undefined) reasons.set(id, (why = []));
        why.push({ item: seeds[s], score: item.score });
      }
    });
    return [...sums]
      .map(([id, score]) => ({ id, score }))
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Fills `explain` of every item of `page`: the user's (or session's) items behind it. */
  async #explain(
    page: RecommendedItem[],
    version: string,
    reasons: Map<string, RecommendReason[]>,
    user: string | null,
    exclusions: UserExclusions,
    readHistory: () => Promise<string[]>,
  ): Promise<void> {
    const missing = page.filter((item) => !reasons.has(item.id));
    if (missing.length > 0 && user !== null) {
      // The user's recent items' related lists, for items that came from elsewhere.
      const recent = [...new Set([...exclusions.seen, ...(await readHistory())])].slice(
        0,
        Math.max(this.#options.recentItems, 20),
      );
      const more = new Map<string, RecommendReason[]>();
      await this.#related(version, recent, more);
      for (const item of missing) {
        const why = more.get(item.id);
        if (why !== undefined) reasons.set(item.id, why);
      }
    }
    for (const item of page) {
      const why = [...(reasons.get(item.id) ?? [])]
        .sort((a, b) => b.score - a.score || (a.item < b.item ? -1 : 1))
        .slice(0, MAX_REASONS);
      item.explain = { reasons: why };
    }
  }
}
