import { InvalidArgumentError, KibanError, NotFoundError } from '../core/errors.js';
import {
  checkBanditName,
  checkDecisionId,
  checkDecisionIds,
  checkIncrements,
  checkTtl,
  type BanditStatistics,
  type BanditStore,
  type DecisionLookup,
  type FeedbackCommit,
  type StoredBandit,
} from './bandit-store.js';

interface HeldBandit {
  definition: string;
  version: number;
  arms: Map<string, Float64Array>;
}

interface HeldDecision {
  record: string;
  expires: number;
  claimed: boolean;
}

/**
 * A {@link BanditStore} in process memory, for tests and `memory:` URLs: one process only.
 * Values are copied in and out. Expired decisions are dropped when looked up and in a sweep
 * every 1,000 puts.
 */
export class MemoryBanditStore implements BanditStore {
  readonly #bandits = new Map<string, HeldBandit>();
  readonly #decisions = new Map<string, HeldDecision>();
  readonly #now: () => number;
  #puts = 0;
  #closed = false;

  /** @param now - the clock decisions expire by, in ms (for tests). @defaultValue Date.now */
  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async createBandit(
    name: string,
    definition: string,
  ): Promise<{ created: boolean; definition: string }> {
    this.#open();
    checkBanditName(name);
    const held = this.#bandits.get(name);
    if (held !== undefined) return { created: false, definition: held.definition };
    this.#bandits.set(name, { definition, version: 0, arms: new Map() });
    return { created: true, definition };
  }

  async getBandit(name: string): Promise<StoredBandit | null> {
    this.#open();
    const held = this.#bandits.get(checkBanditName(name));
    return held === undefined ? null : { definition: held.definition, version: held.version };
  }

  async listBandits(): Promise<string[]> {
    this.#open();
    return [...this.#bandits.keys()].sort();
  }

  async deleteBandit(name: string): Promise<boolean> {
    this.#open();
    return this.#bandits.delete(checkBanditName(name));
  }

  async addStatistics(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
  ): Promise<number> {
    const commit = await this.commitFeedback(name, width, increments, []);
    return (commit as { version: number }).version;
  }

  async commitFeedback(
    name: string,
    width: number,
    increments: ReadonlyMap<string, Float64Array>,
    decisionIds: readonly string[],
  ): Promise<FeedbackCommit> {
    this.#open();
    checkIncrements(width, increments);
    const held = this.#bandits.get(checkBanditName(name));
    if (held === undefined) throw new NotFoundError(`bandit "${name}"`);
    for (const arm of increments.keys()) {
      const total = held.arms.get(arm);
      if (total !== undefined && total.length !== width)
        throw new InvalidArgumentError(
          'width',
          `is ${width}, the stored statistics of "${name}" have ${total.length}`,
        );
    }
    const decisions = checkDecisionIds(decisionIds).map((id) => this.#live(name, id));
    const refused = new Map<string, 'unknown' | 'duplicate'>();
    decisions.forEach((d, k) => {
      if (d === null || d.claimed)
        refused.set(decisionIds[k], d === null ? 'unknown' : 'duplicate');
    });
    if (refused.size > 0) return { status: 'refused', refused };
    for (const d of decisions) d!.claimed = true;
    if (increments.size === 0) return { status: 'stored', version: held.version };
    for (const [arm, v] of increments) {
      const total = held.arms.get(arm);
      if (total === undefined) held.arms.set(arm, v.slice());
      else for (let j = 0; j < width; j++) total[j] += v[j];
    }
    return { status: 'stored', version: ++held.version };
  }

  async readStatistics(name: string, width: number): Promise<BanditStatistics | null> {
    this.#open();
    const held = this.#bandits.get(checkBanditName(name));
    if (held === undefined) return null;
    const arms = new Map<string, Float64Array>();
    for (const [arm, total] of held.arms) {
      if (total.length !== width)
        throw new InvalidArgumentError(
          'width',
          `is ${width}, the stored statistics of "${name}" have ${total.length}`,
        );
      arms.set(arm, total.slice());
    }
    return { version: held.version, arms };
  }

  async putDecision(name: string, id: string, record: string, ttlMs: number): Promise<void> {
    this.#open();
    checkTtl(ttlMs);
    const key = `${checkBanditName(name)}\u0000${checkDecisionId(id)}`;
    const now = this.#now();
    this.#decisions.set(key, { record, expires: now + ttlMs, claimed: false });
    if (++this.#puts % 1000 === 0) {
      for (const [k, d] of this.#decisions) if (d.expires <= now) this.#decisions.delete(k);
    }
  }

  async getDecision(name: string, id: string): Promise<DecisionLookup> {
    this.#open();
    const decision = this.#live(name, id);
    if (decision === null) return { status: 'unknown' };
    return decision.claimed ? { status: 'duplicate' } : { status: 'open', record: decision.record };
  }

  async ping(): Promise<boolean> {
    return !this.#closed;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#bandits.clear();
    this.#decisions.clear();
  }

  #live(name: string, id: string): HeldDecision | null {
    const key = `${checkBanditName(name)}\u0000${checkDecisionId(id)}`;
    const decision = this.#decisions.get(key);
    if (decision === undefined) return null;
    if (decision.expires <= this.#now()) {
      this.#decisions.delete(key);
      return null;
    }
    return decision;
  }

  #open(): void {
    if (this.#closed) throw new KibanError('INTERNAL', 'the bandit store is closed');
  }
}
