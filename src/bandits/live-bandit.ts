import type { BanditPolicy, Feedback, PolicyKind } from './bandit-policy.js';
import { createPolicy, isPolicyKind } from './create-policy.js';
import { statisticsWidth } from './sufficient-statistics.js';
import { ConflictError, DataError, NotFoundError } from '../core/errors.js';
import type { BanditStore } from '../storage/bandit-store.js';

/** A bandit's definition, as stored (JSON) in the bandit store. */
export interface BanditDefinition {
  policy: PolicyKind;
  /** Context length (0 for a non-contextual bandit that takes no context). */
  dim: number;
  /** Every policy parameter, defaults applied. */
  params: Record<string, number>;
  /** The feature service a decision's `context: {entity}` is read from (see `feature-context.ts`). */
  featureService?: string;
  /** ISO-8601 time of creation. */
  createdAt: string;
  /** Random id of this definition, so decisions made before a delete and re-create are told apart. */
  generation: string;
}

/** Parses a stored definition. @throws DataError when it is not one. */
export function parseDefinition(name: string, text: string): BanditDefinition {
  const value = JSON.parse(text) as Partial<BanditDefinition> | null;
  if (
    value === null ||
    typeof value !== 'object' ||
    !isPolicyKind(value.policy) ||
    !Number.isSafeInteger(value.dim) ||
    typeof value.generation !== 'string'
  ) {
    throw new DataError({ column: `bandit ${name}` }, 'the stored definition is malformed');
  }
  return value as BanditDefinition;
}

/** One feedback request waiting in a mini-batch: its decision (if any), its increments and its promise. */
interface Pending {
  decisionId: string | null;
  increments: ReadonlyMap<string, Float64Array>;
  /** The observations behind the increments, applied to this process's policy once stored. */
  feedback: readonly Feedback[];
  resolve: (version: number) => void;
  reject: (error: unknown) => void;
}

/** The error for feedback on a decision that was fed back already. */
export function duplicateFeedbackError(decisionId: string): ConflictError {
  return new ConflictError(
    `decision "${decisionId}": feedback was given already; it is counted once`,
  );
}

/** The error for feedback on a decision the store does not hold. */
export function unknownDecisionError(name: string, decisionId: string): NotFoundError {
  return new NotFoundError(
    `decision "${decisionId}" of bandit "${name}" (never made, or older than its TTL)`,
  );
}

/**
 * One bandit as a server process holds it: its definition, and a policy kept up to date with the
 * shared statistics of the store. Decisions read the policy in memory (no store round trip).
 * Feedback this process stores is applied to its policy at once, by rank-one steps for the linear
 * policies (O(d²) per observation); {@link LiveBandit.refresh}, when the store's version moved,
 * sets every arm's totals from the store, which recomputes an arm's inverse only when others
 * changed it (feedback taken by another process), in slices of at most about
 * {@link REFRESH_SLICE_MS} ms between which requests are served — so no reload of a large bandit
 * holds the event loop. A decision during a refresh sees each arm either before or after it.
 *
 * Feedback increments go to the store in mini-batches by group commit: the first increment is sent
 * at once, and every increment arriving while a batch is in flight joins the next one, merged per
 * arm (one atomic script per batch, however many requests it carries). The batch marks its
 * decisions fed back in the same atomic step ({@link BanditStore.commitFeedback}); when the store
 * refuses some (fed back through another process meanwhile, or expired), those requests fail and
 * the rest go again at once. Each request's promise settles when its batch is stored, so an
 * answered feedback is never lost, and one lost with its process was never counted.
 */
export class LiveBandit {
  readonly name: string;
  readonly definition: BanditDefinition;
  readonly width: number;
  #policy: BanditPolicy;
  #version: number;
  #pending: Pending[] = [];
  /** Decisions with feedback queued or in flight in this process. */
  readonly #queued = new Set<string>();
  #flushing: Promise<void> | null = null;
  #refreshing: Promise<void> | null = null;
  /** Highest version the store reported (after a refresh check or our own batch). */
  #seen: number;
  /** Highest version whose totals a refresh has started setting. */
  #target = -1;

  private constructor(
    name: string,
    definition: BanditDefinition,
    policy: BanditPolicy,
    version: number,
    private readonly store: BanditStore,
  ) {
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
    const live = new LiveBandit(
      name,
      definition,
      createPolicy(definition.policy, { dim: definition.dim, params: definition.params }),
      -1,
      store,
    );
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
   * Queues statistics increments for the store, with the decision they are the feedback of, and
   * resolves with the version of the batch that stored them.
   * @throws ConflictError when the decision was fed back already (or is being, in this process);
   *   NotFoundError when the store no longer holds it; what the store throws (nothing was stored).
   */
  add(
    increments: ReadonlyMap<string, Float64Array>,
    decisionId: string | null = null,
    feedback: readonly Feedback[] = [],
  ): Promise<number> {
    if (decisionId !== null) {
      if (this.#queued.has(decisionId)) return Promise.reject(duplicateFeedbackError(decisionId));
      this.#queued.add(decisionId);
    }
    const done = new Promise<number>((resolve, reject) =>
      this.#pending.push({ decisionId, increments, feedback, resolve, reject }),
    );
    this.#flushing ??= this.#flush();
    return done;
  }

  /** Arms with statistics in this process's policy or with feedback queued here. */
  get knownArms(): number {
    return this.#policy.armCount + this.#queuedArms().size;
  }

  /** Whether arm `id` has statistics in this process's policy or feedback queued here. */
  knowsArm(id: string): boolean {
    return (
      this.#policy.hasArm(id) ||
      this.#pending.some((p) => p.increments.has(id)) ||
      this.#inFlightArms.has(id)
    );
  }

  /** Arms new to the policy with feedback queued or in flight here. */
  #queuedArms(): Set<string> {
    const arms = new Set<string>();
    for (const arm of this.#inFlightArms) if (!this.#policy.hasArm(arm)) arms.add(arm);
    for (const p of this.#pending)
      for (const arm of p.increments.keys()) if (!this.#policy.hasArm(arm)) arms.add(arm);
    return arms;
  }

  /** Arms of the batch in flight. */
  #inFlightArms = new Set<string>();

  /** Waits until every queued increment is stored (or failed). */
  async drain(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
  }

  /** Sends batches until none is pending; never throws (failures reject the batch's requests). */
  async #flush(): Promise<void> {
    try {
      // Let the requests of this turn of the event loop join the first batch.
      await Promise.resolve();
      while (this.#pending.length > 0) {
        let batch = this.#pending;
        this.#pending = [];
        try {
          for (;;) {
            const ids = batch.flatMap((p) => (p.decisionId === null ? [] : [p.decisionId]));
            const sums = sumIncrements(batch);
            this.#inFlightArms = new Set(sums.keys());
            const commit = await this.store.commitFeedback(this.name, this.width, sums, ids);
            this.#inFlightArms = new Set();
            if (commit.status === 'stored') {
              this.noteVersion(commit.version);
              this.#applyLocally(batch, commit.version);
              this.#settle(batch, (p) => p.resolve(commit.version));
              break;
            }
            // Refused decisions fail alone; the rest of the batch goes again.
            const refused = batch.filter(
              (p) => p.decisionId !== null && commit.refused.has(p.decisionId),
            );
            this.#settle(refused, (p) =>
              p.reject(
                commit.refused.get(p.decisionId!) === 'duplicate'
                  ? duplicateFeedbackError(p.decisionId!)
                  : unknownDecisionError(this.name, p.decisionId!),
              ),
            );
            batch = batch.filter((p) => !refused.includes(p));
            if (batch.length === 0) break;
          }
        } catch (error) {
          this.#inFlightArms = new Set();
          this.#settle(batch, (p) => p.reject(error));
        }
      }
    } finally {
      // Cleared in the same synchronous step as the last check of #pending: an add() can never
      // find a flush "in progress" that has already stopped looking (its batch would wait forever).
      this.#flushing = null;
    }
  }

  #settle(requests: readonly Pending[], how: (p: Pending) => void): void {
    for (const p of requests) {
      if (p.decisionId !== null) this.#queued.delete(p.decisionId);
      how(p);
    }
  }

  /**
   * Applies a stored batch's observations to this process's policy, unless a refresh has already
   * set (or is setting) totals that include it; a refresh from older totals undoes it, and the
   * next one (the batch's version is newer) brings it back.
   */
  #applyLocally(batch: readonly Pending[], version: number): void {
    if (this.#target >= version) return;
    try {
      this.#policy.update(batch.flatMap((p) => p.feedback));
    } catch {
      // Checked when the increments were made; were it to fail, the next refresh sets the totals.
    }
  }

  async #reload(): Promise<void> {
    const statistics = await this.store.readStatistics(this.name, this.width);
    if (statistics === null) throw new NotFoundError(`bandit "${this.name}"`);
    if (statistics.version <= this.#version) return;
    const entries = [...statistics.arms];
    const policy = this.#policy;
    if (statistics.version > this.#target) this.#target = statistics.version;
    let start = 0;
    while (start < entries.length) {
      const sliceStart = performance.now();
      // Arms in small groups until the slice's time is spent, then let requests in.
      do {
        policy.setTotals(entries.slice(start, start + REFRESH_GROUP));
        start += REFRESH_GROUP;
      } while (start < entries.length && performance.now() - sliceStart < REFRESH_SLICE_MS);
      if (start < entries.length) await new Promise((resolve) => setImmediate(resolve));
    }
    if (statistics.version > this.#version) this.#version = statistics.version;
    this.noteVersion(statistics.version);
  }
}

/** Longest stretch of a refresh on the event loop, in ms (more arms wait for the next turn). */
export const REFRESH_SLICE_MS = 10;

/** Arms set together within a refresh slice. */
const REFRESH_GROUP = 8;

/** The per-arm sums of the requests' increments. */
function sumIncrements(requests: readonly Pending[]): Map<string, Float64Array> {
  const sums = new Map<string, Float64Array>();
  for (const { increments } of requests) {
    for (const [arm, v] of increments) {
      const total = sums.get(arm);
      if (total === undefined) sums.set(arm, v.slice());
      else for (let j = 0; j < v.length; j++) total[j] += v[j];
    }
  }
  return sums;
}
