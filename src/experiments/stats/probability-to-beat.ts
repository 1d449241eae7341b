import { InvalidArgumentError } from '../../core/errors.js';
import { logBeta, normalCdf } from '../../math/special-functions.js';
import { checkMeanSummary, type MeanSummary, type ProportionSummary } from './types.js';

function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

/**
 * P(p_B > p_A) for independent p_A ~ Beta(aA, bA) and p_B ~ Beta(aB, bB) with integer aB, by
 * the exact finite sum (Evan Miller, "Formulas for Bayesian A/B testing"):
 *   Σ_{i=0}^{aB−1} B(aA+i, bA+bB) / ((bB+i) B(1+i, bB) B(aA, bA)),
 * each term from the previous one by the ratio (aA+i)(bB+i) / ((aA+bA+bB+i)(1+i)), summed in
 * log space: O(aB) steps with no special function inside the loop.
 */
function betaBeats(aA: number, bA: number, aB: number, bB: number): number {
  let logTerm = logBeta(aA, bA + bB) - Math.log(bB) - logBeta(1, bB) - logBeta(aA, bA);
  let logSum = logTerm;
  for (let i = 0; i < aB - 1; i++) {
    logTerm += Math.log(aA + i) + Math.log(bB + i) - Math.log(aA + bA + bB + i) - Math.log(1 + i);
    logSum = logAddExp(logSum, logTerm);
  }
  return Math.min(1, Math.max(0, Math.exp(logSum)));
}

function check(s: ProportionSummary, field: string): void {
  if (!Number.isInteger(s.units) || s.units < 0)
    throw new InvalidArgumentError(`${field}.units`, `must be an integer ≥ 0, got ${s.units}`);
  if (!Number.isInteger(s.conversions) || s.conversions < 0 || s.conversions > s.units)
    throw new InvalidArgumentError(
      `${field}.conversions`,
      `must be an integer from 0 to units, got ${s.conversions}`,
    );
}

/**
 * The Bayesian probability that the treatment's true rate exceeds the control's, with uniform
 * priors: independent Beta(1 + conversions, 1 + units − conversions) posteriors. Exact; the sum
 * runs over the smaller of the two ways of writing it (conversions or non-conversions of one
 * side), so a million units with 100,000 conversions take a few milliseconds.
 */
export function probabilityToBeatControl(
  control: ProportionSummary,
  treatment: ProportionSummary,
): number {
  check(control, 'control');
  check(treatment, 'treatment');
  const aC = 1 + control.conversions;
  const bC = 1 + control.units - control.conversions;
  const aT = 1 + treatment.conversions;
  const bT = 1 + treatment.units - treatment.conversions;
  // Four exact forms: sum over the treatment's α, the control's α (as 1 − P(control beats)), or,
  // through p ↦ 1 − p, over the β's. Take the shortest.
  const forms: [number, () => number][] = [
    [aT, () => betaBeats(aC, bC, aT, bT)],
    [aC, () => 1 - betaBeats(aT, bT, aC, bC)],
    [bC, () => betaBeats(bT, aT, bC, aC)],
    [bT, () => 1 - betaBeats(bC, aC, bT, aT)],
  ];
  forms.sort((x, y) => x[0] - y[0]);
  return forms[0][1]();
}

/**
 * The probability that the treatment's true mean exceeds the control's under the normal
 * approximation (flat priors): Φ((m_t − m_c) / sqrt(v_t/n_t + v_c/n_c)).
 */
export function probabilityToBeatControlMeans(
  control: MeanSummary,
  treatment: MeanSummary,
): number {
  checkMeanSummary(control, 'control');
  checkMeanSummary(treatment, 'treatment');
  const se = Math.sqrt(control.variance / control.units + treatment.variance / treatment.units);
  const diff = treatment.mean - control.mean;
  if (se === 0) return diff > 0 ? 1 : diff < 0 ? 0 : 0.5;
  return normalCdf(diff / se);
}
