import { createPolicy, isPolicyKind, type BanditPolicy, type PolicyKind } from '../bandits/bandit-policy.js';
import { restoreFromTotals, statisticsWidth } from '../bandits/sufficient-statistics.js';
import { DataError, NotFoundError } from '../core/errors.js';
import type { BanditStore } from '../storage/bandit-store.js';

/** A bandit's definition, as stored (JSON) in the bandit store. */
export interface BanditDefinition {
  policy: PolicyKind;
  /** Context length (0 for a non-contextual bandit that takes no context). */
  dim: number;
  /** Every policy parameter, defaults applied. */
  params: Record<string, number>;
  /** ISO-8601 time of creation. */
  createdAt: string;
  /** Random id of this definition, so decisions made before a delete and re-create are told apart. */
  generation: string;
}

/** Parses a stored definition. @throws DataError when it is not one. */
export function parseDefinition(name: string, text: string): BanditDefinition {
  const value = JSON.parse(text) as Partial<BanditDefinition> | null;
  if (value === null || typeof value !== 'object' || !isPolicyKind(value.policy) || !Number.isSafeInteger(value.dim) || typeof value.generation !== 'string') {
    throw new DataError({ column: `bandit ${name}` }, 'the stored definition is malformed');
  }
  return value as BanditDefinition;
}

/** One pending mini-batch of statistics increments and the feedback requests waiting on it. */
interface Batch {
  increments: Map<string, Float64Array>;
  waiters: { resolve: (version: number) => void; reject: (error: unknown) => void }[];
}

/**
 * One bandit as a server process holds it: its definition, and a policy rebuilt from the shared
 * statistics of the store at some version. Decisions read the policy in memory (no store round
 * trip); {@link LiveBandit.refresh} rebuilds it when the store's version moved — beside the current
 * one, then swapped in one assignment.
 *
 * Feedback increments go to the store in mini-batches by group commit: the first increment is sent
 * at once, and every increment arriving while a batch is in flight joins the next one, merged per
 * arm (one atomic script per batch, however many requests it carries). Each request's promise
 * settles when its batch is stored, so an answered feedback is never lost.
 */
export class LiveBandit {
  readonly name: string;
  readonly definition: BanditDefinition;
  readonly width: number;
  #policy: BanditPolicy;
  #version: number;
  #pending: Batch | null = null;
  #flushing: Promise<void> | null = null;
  #refreshing: Promise<void> | null = null;
  /** Highest version the store reported (after a refresh check or our own batch). */
  #seen: number;

  private constructor(name: string, definition: BanditDefinition, policy: BanditPolicy, version: number, private readonly store: BanditStore) {
    this.name = name;
    this.definition = definition;
    this.width = statisticsWidth(definition.policy, definition.dim);
    this.#policy = policy;
    this.#version = version;
    this.#seen = version;
  }

  /** Loads bandit `name` from the store. @throws NotFoundError when it does not exist. */
  static async load(store: BanditStore, name: string): Promise<LiveBandit> {
    const stored = await store.getBandit(name);
    if (stored === null) throw new NotFoundError(`bandit "${name}"`);
    const definition = parseDefinition(name, stored.definition);
    const live = new LiveBandit(name, definition, createPolicy(definition.policy, { dim: definition.dim, params: definition.params }), -1, store);
    await live.#reload();
    return live;
  }

  /** The policy answering now. */
  get policy(): BanditPolicy {
    return this.#policy;
  }

  /** The statistics version the policy was built from. */
  get version(): number {
    return this.#version;
  }

  /** Notes that the store holds `version` (e.g. from a poll), so the next refresh rebuilds. */
  noteVersion(version: number): void {
    if (version > this.#seen) this.#seen = version;
  }

  /** Whether the store is known to hold statistics newer than the policy's. */
  get stale(): boolean {
    return this.#seen > this.#version;
  }

  /** Rebuilds the policy from the store's statistics; concurrent calls share one read. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#reload().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * Queues statistics increments for the store and resolves with the version of the batch that
   * stored them. @throws what the store throws (the increments were not stored).
   */
  add(increments: ReadonlyMap<string, Float64Array>): Promise<number> {
    const batch: Batch = (this.#pending ??= { increments: new Map(), waiters: [] } satisfies Batch);
    for (const [arm, v] of increments) {
      const total = batch.increments.get(arm);
      if (total === undefined) batch.increments.set(arm, v.slice());
      else for (let j = 0; j < v.length; j++) total[j] += v[j];
    }
    const done = new Promise<number>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    this.#flushing ??= this.#flush();
    return done;
  }

  /** Waits until every queued increment is stored (or failed). */
  async drain(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  /** Sends batches until none is pending; never throws (failures reject the batch's waiters). */
  async #flush(): Promise<void> {
    try {
      // Let the requests of this turn of the event loop join the first batch.
      await Promise.resolve();
      while (this.#pending !== null) {
        const batch = this.#pending;
        this.#pending = null;
        try {
          const version = await this.store.addStatistics(this.name, this.width, batch.increments);
          this.noteVersion(version);
          for (const w of batch.waiters) w.resolve(version);
        } catch (error) {
          for (const w of batch.waiters) w.reject(error);
        }
      }
    } finally {
      // Cleared in the same synchronous step as the last check of #pending: an add() can never
      // find a flush "in progress" that has already stopped looking (its batch would wait forever).
      this.#flushing = null;
    }
  }

  async #reload(): Promise<void> {
    const statistics = await this.store.readStatistics(this.name, this.width);
    if (statistics === null) throw new NotFoundError(`bandit "${this.name}"`);
    if (statistics.version <= this.#version) return;
    const { policy: kind, dim, params } = this.definition;
    const policy = createPolicy(kind, { dim, params });
    restoreFromTotals(policy, statistics.arms);
    this.#policy = policy;
    this.#version = statistics.version;
    this.noteVersion(statistics.version);
  }
}
