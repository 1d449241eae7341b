/**
 * An empirical privacy-loss tester: runs a mechanism many times on two neighbouring datasets and
 * looks for an output event whose probabilities certify, with high confidence, a privacy loss above
 * the claimed (ε, δ). It can prove a mechanism broken; it can never prove one private.
 */
import { lowerBound } from '../core/lower-bound.js';
import { InvalidArgumentError } from '../core/errors.js';
import { regularizedBeta, regularizedBetaComplement } from '../math/special-functions.js';

/** One run of the mechanism under test on dataset D (0) or its neighbour D′ (1): an integer. */
export type MechanismRun = (dataset: 0 | 1) => number;

/** What {@link testPrivacyLoss} needs besides the mechanism. */
export interface PrivacyTestOptions {
  /** Runs per dataset, an integer ≥ 4; a quarter choose the events, the rest test them. */
  samples: number;
  /** The claimed ε, finite and ≥ 0 (natural-log units). */
  epsilon: number;
  /** The claimed δ in [0, 1); default 0 (pure DP). */
  delta?: number;
  /** Bound on the chance of flagging a mechanism that does satisfy (ε, δ)-DP, in (0, 1); default 1e-6. */
  failureProbability?: number;
}

/** What {@link testPrivacyLoss} found. */
export interface PrivacyTestResult {
  /** True when some event certifies P_A(E) > e^ε·P_B(E) + δ at the overall confidence. */
  violated: boolean;
  /**
   * The largest certified lower bound over the events of ln((P_A(E) − δ)/P_B(E)): the true ε of the
   * mechanism is at least this with probability ≥ 1 − failureProbability. 0 when nothing is certified.
   */
  epsilonLowerBound: number;
  /** The point estimate ln((p̂_A(E) − δ)/p̂_B(E)) for the worst event (may be ±Infinity). */
  epsilonEstimate: number;
  /** The worst event and its direction, e.g. `y >= 3, D′ vs D` (P_D′ against e^ε·P_D + δ). */
  worstEvent: string;
  /** Runs per dataset, as given. */
  samples: number;
}

/**
 * Tests a mechanism for (ε, δ)-DP on one pair of neighbouring datasets.
 *
 * It draws `samples` outputs from each dataset. The first quarter of each chooses the candidate
 * events (every output value seen, as {y = c}, {y ≤ c} and {y ≥ c}, in both directions) so that the
 * events do not depend on the data that test them; the other three quarters test each event with
 * one-sided Clopper–Pearson bounds, Bonferroni-corrected over the 2 bounds of every event, so a
 * mechanism that satisfies (ε, δ)-DP is flagged with probability ≤ `failureProbability`.
 * @throws InvalidArgumentError naming the option at fault, or `run` when it returns a non-integer.
 */
export function testPrivacyLoss(run: MechanismRun, options: PrivacyTestOptions): PrivacyTestResult {
  const { samples, epsilon } = options;
  const delta = options.delta ?? 0;
  const alpha = options.failureProbability ?? 1e-6;
  if (!Number.isSafeInteger(samples) || samples < 4) {
    throw new InvalidArgumentError('samples', `must be an integer ≥ 4, got ${samples}`);
  }
  if (!(epsilon >= 0 && Number.isFinite(epsilon))) {
    throw new InvalidArgumentError('epsilon', `must be finite and ≥ 0, got ${epsilon}`);
  }
  if (!(delta >= 0 && delta < 1)) {
    throw new InvalidArgumentError('delta', `must be in [0, 1), got ${delta}`);
  }
  if (!(alpha > 0 && alpha < 1)) {
    throw new InvalidArgumentError('failureProbability', `must be in (0, 1), got ${alpha}`);
  }

  const outputs = [draw(run, 0, samples), draw(run, 1, samples)];
  const selection = Math.floor(samples / 4);
  const n = samples - selection;
  const candidates = distinct(outputs[0].subarray(0, selection), outputs[1].subarray(0, selection));
  const tested = outputs.map((o) => o.slice(selection).sort());

  // 3 event shapes × candidates × 2 directions, and 2 bounds per event.
  const events = 6 * candidates.length;
  const beta = alpha / (2 * events);
  const lower = new Map<number, number>();
  const upper = new Map<number, number>();
  const lowerOf = (k: number): number => cached(lower, k, () => clopperPearsonLower(k, n, beta));
  const upperOf = (k: number): number => cached(upper, k, () => clopperPearsonUpper(k, n, beta));

  const expEpsilon = Math.exp(epsilon);
  const counts = new Float64Array(6);
  let violated = false;
  let bestBound = Number.NEGATIVE_INFINITY;
  let bestEstimate = Number.NEGATIVE_INFINITY;
  let worstEvent = '';
  let fallbackEstimate = Number.NEGATIVE_INFINITY;
  let fallbackEvent = '';
  for (const c of candidates) {
    for (let d = 0; d < 2; d++) {
      const a = tested[d];
      const lt = lowerBound(a, c);
      const le = lowerBound(a, c + 1);
      counts[3 * d] = le - lt;
      counts[3 * d + 1] = le;
      counts[3 * d + 2] = n - lt;
    }
    for (let shape = 0; shape < 3; shape++) {
      for (let direction = 0; direction < 2; direction++) {
        const kA = counts[3 * direction + shape];
        const kB = counts[3 * (1 - direction) + shape];
        const estimate = Math.log((kA / n - delta) / (kB / n));
        if (!(estimate > fallbackEstimate) && !(estimate > bestBound)) continue;
        const name = `${SHAPES[shape]} ${c}, ${DIRECTIONS[direction]}`;
        if (estimate > fallbackEstimate) {
          fallbackEstimate = estimate;
          fallbackEvent = name;
        }
        // The certified bound never exceeds the estimate (CP lower ≤ p̂ ≤ CP upper), so an event
        // whose estimate is already beaten cannot win and its bounds are not worth computing.
        if (!(estimate > bestBound)) continue;
        const lowA = lowerOf(kA);
        const highB = upperOf(kB);
        if (lowA > expEpsilon * highB + delta) violated = true;
        const bound = Math.log((lowA - delta) / highB);
        if (bound > bestBound) {
          bestBound = bound;
          bestEstimate = estimate;
          worstEvent = name;
        }
      }
    }
  }
  const certified = bestBound > 0;
  return {
    violated,
    epsilonLowerBound: certified ? bestBound : 0,
    epsilonEstimate: certified ? bestEstimate : fallbackEstimate,
    worstEvent: certified ? worstEvent : fallbackEvent,
    samples,
  };
}

const SHAPES = ['y =', 'y <=', 'y >='] as const;
const DIRECTIONS = ['D vs D′', 'D′ vs D'] as const;

function draw(run: MechanismRun, dataset: 0 | 1, samples: number): Float64Array {
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const y = run(dataset);
    if (!Number.isSafeInteger(y)) {
      throw new InvalidArgumentError('run', `must return a safe integer, got ${y}`);
    }
    out[i] = y;
  }
  return out;
}

/** The sorted distinct values of two arrays. */
function distinct(a: Float64Array, b: Float64Array): Float64Array {
  const all = new Float64Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  all.sort();
  let m = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[m - 1]) all[m++] = all[i];
  return all.slice(0, m);
}

function cached(map: Map<number, number>, k: number, compute: () => number): number {
  let v = map.get(k);
  if (v === undefined) {
    v = compute();
    map.set(k, v);
  }
  return v;
}

/** Bisection stops when the bracket is this narrow relative to its upper end. */
const RELATIVE_WIDTH = 1e-10;

/**
 * One-sided Clopper–Pearson lower bound: below P with probability ≥ 1 − β for k successes in n
 * trials of probability P. The bisection keeps its lower end, so rounding errs on the safe side.
 */
export function clopperPearsonLower(k: number, n: number, beta: number): number {
  if (k <= 0) return 0;
  // P(Bin(n, x) ≥ k) = I_x(k, n − k + 1) rises with x; the bound is where it equals β.
  let lo = 0;
  let hi = k / n;
  for (let i = 0; i < 200 && hi - lo > RELATIVE_WIDTH * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (regularizedBeta(mid, k, n - k + 1) < beta) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** One-sided Clopper–Pearson upper bound: above P with probability ≥ 1 − β; see the lower bound. */
export function clopperPearsonUpper(k: number, n: number, beta: number): number {
  if (k >= n) return 1;
  // P(Bin(n, x) ≤ k) = 1 − I_x(k + 1, n − k) falls with x; the bound is where it equals β.
  let lo = k / n;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > RELATIVE_WIDTH * hi; i++) {
    const mid = 0.5 * (lo + hi);
    if (regularizedBetaComplement(mid, k + 1, n - k) > beta) lo = mid;
    else hi = mid;
  }
  return hi;
}
