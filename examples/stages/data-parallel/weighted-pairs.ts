import type { ExternalId } from '../../../src/data/id-map.js';
import { minimumCountCore } from './k-core.js';

/** One weighted event, as `prepareInteractions`' preprocess emits it. */
export interface WeightedEvent {
  user: ExternalId;
  item: ExternalId;
  event: string;
  /** The event's own value (1 when the log has none). */
  value: number;
  /** Event weight × value. */
  weight: number;
  /** Unix epoch seconds. */
  timestamp: number;
}

/** One training interaction: the summed weight of a (user, item) and its latest event. */
export interface InteractionRow {
  user: ExternalId;
  item: ExternalId;
  value: number;
  /** Unix epoch seconds of the pair's latest event. */
  timestamp: number;
}

/**
 * Accumulates weighted events into (user, item) interactions the way `aggregateEvents`
 * (src/pipeline/aggregate.ts) does in SQL: exact duplicate events (same user, item, event, value
 * and timestamp) count once, each pair gets the sum of its events' weights and the latest
 * timestamp, and {@link WeightedPairs.rows} prunes users and items below the minimum counts.
 *
 * Ids are compared as text (`429` and `"429"` are one id), as aggregate.ts's `CAST(… AS VARCHAR)`
 * does; inside, users and items are dense indices in order of first appearance.
 */
export class WeightedPairs {
  readonly #users = new DenseIds();
  readonly #items = new DenseIds();
  readonly #seen = new Set<string>();
  #u = new Int32Array(1024);
  #i = new Int32Array(1024);
  #w = new Float64Array(1024);
  #t = new Float64Array(1024);
  #n = 0;
  /** Events offered, and duplicates of an earlier one among them. */
  events = 0;
  duplicates = 0;

  add(e: WeightedEvent): void {
    this.events++;
    const u = this.#users.index(e.user);
    const i = this.#items.index(e.item);
    // The key holds every column aggregate.ts's SELECT DISTINCT compares; numbers print exactly.
    const key = `${u}\u0000${i}\u0000${e.event}\u0000${e.value}\u0000${e.timestamp}`;
    if (this.#seen.has(key)) {
      this.duplicates++;
      return;
    }
    this.#seen.add(key);
    if (this.#n === this.#u.length) this.#grow();
    this.#u[this.#n] = u;
    this.#i[this.#n] = i;
    this.#w[this.#n] = e.weight;
    this.#t[this.#n] = e.timestamp;
    this.#n++;
  }

  /**
   * The interactions: one row per (user, item) left after pruning users with fewer than
   * `minUserItems` items and items with fewer than `minItemUsers` users (repeated until stable),
   * ordered by user, then timestamp, then item, as aggregate.ts writes them. A column's ids are
   * numbers when every one of its ids is an integer, strings otherwise.
   */
  rows(minUserItems = 1, minItemUsers = 1): InteractionRow[] {
    const n = this.#n;
    const nItems = this.#items.size;
    // Sort events by (user, item) so that each pair's events are adjacent; u·nItems + i < 2^53.
    const order = Uint32Array.from({ length: n }, (_, k) => k);
    const key = (k: number): number => this.#u[k] * nItems + this.#i[k];
    order.sort((a, b) => key(a) - key(b) || a - b);
    const pu: number[] = [];
    const pi: number[] = [];
    const pv: number[] = [];
    const pt: number[] = [];
    for (let s = 0; s < n; s++) {
      const k = order[s];
      const last = pu.length - 1;
      if (last >= 0 && pu[last] === this.#u[k] && pi[last] === this.#i[k]) {
        pv[last] += this.#w[k];
        if (this.#t[k] > pt[last]) pt[last] = this.#t[k];
      } else {
        pu.push(this.#u[k]);
        pi.push(this.#i[k]);
        pv.push(this.#w[k]);
        pt.push(this.#t[k]);
      }
    }
    const pairUsers = Int32Array.from(pu);
    const pairItems = Int32Array.from(pi);
    const alive = minimumCountCore(
      pairUsers,
      pairItems,
      this.#users.size,
      nItems,
      minUserItems,
      minItemUsers,
    );

    const keep: number[] = [];
    for (let p = 0; p < alive.length; p++) if (alive[p] === 1) keep.push(p);
    const numericUsers = this.#users.allNumeric(keep.map((p) => pairUsers[p]));
    const numericItems = this.#items.allNumeric(keep.map((p) => pairItems[p]));
    const users = this.#users.external(numericUsers);
    const items = this.#items.external(numericItems);
    const userRank = this.#users.ranks(numericUsers);
    const itemRank = this.#items.ranks(numericItems);
    keep.sort(
      (a, b) =>
        userRank[pairUsers[a]] - userRank[pairUsers[b]] ||
        pt[a] - pt[b] ||
        itemRank[pairItems[a]] - itemRank[pairItems[b]],
    );
    return keep.map((p) => ({
      user: users(pairUsers[p]),
      item: items(pairItems[p]),
      value: pv[p],
      timestamp: Math.round(pt[p]),
    }));
  }

  #grow(): void {
    const grow = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.#u = grow(this.#u);
    this.#i = grow(this.#i);
    this.#w = grow(this.#w);
    this.#t = grow(this.#t);
  }
}

/** External ids ↔ dense indices in order of first appearance, compared as text. */
class DenseIds {
  readonly #index = new Map<string, number>();
  readonly #ids: ExternalId[] = [];

  get size(): number {
    return this.#ids.length;
  }

  index(id: ExternalId): number {
    const key = String(id);
    let at = this.#index.get(key);
    if (at === undefined) {
      at = this.#ids.length;
      this.#index.set(key, at);
      this.#ids.push(id);
    }
    return at;
  }

  /** Whether the ids at every dense index in `used` are numbers. */
  allNumeric(used: readonly number[]): boolean {
    return used.every((x) => typeof this.#ids[x] === 'number');
  }

  /** Dense index → external id for output: the id itself when `numeric`, else its text. */
  external(numeric: boolean): (index: number) => ExternalId {
    return numeric ? (x) => this.#ids[x] : (x) => String(this.#ids[x]);
  }

  /** Each dense index's position in ascending id order: numeric order when `numeric`, else text. */
  ranks(numeric: boolean): Int32Array {
    const order = this.#ids.map((_, x) => x);
    // Ids pruned away may be strings even when `numeric`; they sort last and are never output.
    const key = numeric
      ? (x: number) => (typeof this.#ids[x] === 'number' ? (this.#ids[x] as number) : Infinity)
      : (x: number) => String(this.#ids[x]);
    order.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    const rank = new Int32Array(order.length);
    order.forEach((x, r) => (rank[x] = r));
    return rank;
  }
}
