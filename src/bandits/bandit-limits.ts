import { InvalidArgumentError } from '../core/errors.js';

/**
 * What one bandit request may ask of a server, so no request can take it down: the work and
 * memory of a decision grow with slots × candidates and dim² × candidates, and every arm of a
 * linear bandit holds 2 + d² + d numbers in the store and about three times that in each process.
 * Requests over a limit are refused with a 400 that names it.
 */
export interface BanditLimits {
  /** Most slots one decision fills. @defaultValue 100 */
  maxSlots: number;
  /**
   * Most `max(dim, 1) × candidates` of one decision (a LinUCB decision costs about
   * candidates × d²/2 multiply-adds: 100,000 is 20 × 5,000 or 256 × 390). @defaultValue 100,000
   */
  maxDimCandidates: number;
  /**
   * Most arms with statistics per bandit: feedback that would add an arm beyond it is refused
   * (a linear arm at dim 256 keeps 0.5 MB in the store). @defaultValue 1,000
   */
  maxArms: number;
}

/** Defaults of {@link BanditLimits}. */
export const BANDIT_LIMIT_DEFAULTS: Readonly<BanditLimits> = Object.freeze({
  maxSlots: 100,
  maxDimCandidates: 100_000,
  maxArms: 1_000,
});

/** The limits in force: `given` over the defaults, each checked (an integer ≥ 1). */
export function resolveBanditLimits(given: Partial<BanditLimits> = {}): Readonly<BanditLimits> {
  const limits = { ...BANDIT_LIMIT_DEFAULTS };
  for (const name of Object.keys(given) as (keyof BanditLimits)[]) {
    if (!Object.hasOwn(BANDIT_LIMIT_DEFAULTS, name))
      throw new InvalidArgumentError(
        `limits.${name}`,
        `unknown limit; known: ${Object.keys(BANDIT_LIMIT_DEFAULTS).join(', ')}`,
      );
    const value = given[name];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1)
      throw new InvalidArgumentError(
        `limits.${name}`,
        `must be an integer ≥ 1, got ${String(value)}`,
      );
    limits[name] = value;
  }
  return Object.freeze(limits);
}

/** The error for a request over limit `name`. */
function overLimit(
  field: string,
  name: keyof BanditLimits,
  limit: number,
  what: string,
): InvalidArgumentError {
  return new InvalidArgumentError(
    field,
    `${what} is over the limit ${name} = ${limit} of this server`,
  );
}

/** Refuses a decision with more slots, or more dim × candidates, than the limits allow. */
export function checkDecideLimits(
  limits: Readonly<BanditLimits>,
  dim: number,
  candidates: number,
  slots: number,
): void {
  if (slots > limits.maxSlots)
    throw overLimit('slots', 'maxSlots', limits.maxSlots, `${slots} slots`);
  const cells = Math.max(dim, 1) * candidates;
  if (cells > limits.maxDimCandidates)
    throw overLimit(
      'candidates',
      'maxDimCandidates',
      limits.maxDimCandidates,
      `dim × candidates (${Math.max(dim, 1)} × ${candidates} = ${cells})`,
    );
}

/** Refuses feedback that would bring a bandit holding `known` arms to more than the limit. */
export function checkArmLimit(
  limits: Readonly<BanditLimits>,
  name: string,
  known: number,
  added: readonly string[],
): void {
  if (added.length > 0 && known + added.length > limits.maxArms) {
    throw overLimit(
      'rewards',
      'maxArms',
      limits.maxArms,
      `bandit "${name}" holds ${known} arms; the new arm(s) ${added.map((a) => `"${a}"`).join(', ')}`,
    );
  }
}
