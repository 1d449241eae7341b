/**
 * Special functions and distribution functions, shared by the A/B-test statistics and the bandit
 * policies: ln Γ, ln B, the
 * regularised incomplete beta and gamma functions, and the normal, Student t and chi-square
 * distributions. Plain double-precision numerics with no dependencies, checked against scipy in
 * `experiments/stats/fixtures/scipy-reference.json` (relative error around 1e-13 in the body of each distribution and
 * 1e-11 or better far into the tails).
 *
 * Parameters out of their domain (a shape or a df that is not positive, a probability outside
 * [0, 1]) throw {@link InvalidArgumentError}, because they are mistakes upstream; a NaN point `x`
 * or `t` gives NaN, as in scipy.
 */
import { InvalidArgumentError } from '../core/errors.js';

/** ½ ln(2π). */
const HALF_LN_2PI = 0.9189385332046728;
/** A series or continued fraction has converged when a step changes it by less than this, relatively. */
const CONVERGED = 4 * Number.EPSILON;
/** Lentz's guard against a zero denominator. */
const TINY = 1e-300;
/** The fractions and series below need O(√max(a, b)) steps; this bound is never reached for df < 1e15. */
const MAX_ITERATIONS = 10_000_000;
/** From this argument up, ln Γ is Stirling's series, which is then exact to double precision. */
const STIRLING_FROM = 10;
/**
 * Above this df the Student t distribution is the normal one to double precision for the
 * probabilities (the leading correction is φ(t)(t³ + t)/(4 df) < 1e-16 relative for |t| < 38).
 */
const T_IS_NORMAL_ABOVE_DF = 1e17;
/** From this df up, and for t²/df ≤ e^½ − 1, the t tail is {@link betaLargeA}'s expansion instead of the continued fraction. */
const LARGE_A_FROM_DF = 100;
const LARGE_A_MAX_R = Math.expm1(0.5);

function requirePositive(value: number, field: string, allowInfinity: boolean): void {
  if (!(value > 0) || (!allowInfinity && value === Infinity)) {
    throw new InvalidArgumentError(
      field,
      `must be a positive${allowInfinity ? '' : ' finite'} number, got ${value}`,
    );
  }
}

function requireProbability(p: number, field: string): void {
  if (!(p >= 0 && p <= 1))
    throw new InvalidArgumentError(field, `must be a probability in [0, 1], got ${p}`);
}

/**
 * Stirling's correction δ(x) = ln Γ(x) − [(x − ½) ln x − x + ½ ln 2π] for x ≥ 10, by its asymptotic
 * series (Bernoulli numbers B₂…B₁₄); at x = 10 the first omitted term is 3e-17.
 * Differences of δ carry the part of ln Γ that would be lost to cancellation in ln B.
 */
function stirlingCorrection(x: number): number {
  const inv = 1 / x;
  const inv2 = inv * inv;
  return (
    inv *
    (1 / 12 -
      inv2 *
        (1 / 360 -
          inv2 *
            (1 / 1260 -
              inv2 * (1 / 1680 - inv2 * (1 / 1188 - inv2 * (691 / 360360 - inv2 / 156))))))
  );
}

/**
 * ln Γ(x) for x > 0 (x = +Infinity gives +Infinity). Absolute error about 1e-15 for x below 10
 * (relative near the zeros at 1 and 2), relative error about 1e-16 above.
 *
 * @throws InvalidArgumentError(`x`) when x is not positive.
 */
export function logGamma(x: number): number {
  requirePositive(x, 'x', true);
  if (x === Infinity) return Infinity;
  if (x >= STIRLING_FROM) return (x - 0.5) * Math.log(x) - x + HALF_LN_2PI + stirlingCorrection(x);
  // Γ(x) = Γ(x + k) / (x (x+1) ⋯ (x+k−1)); one logarithm of the product keeps the rounding to one step.
  let product = 1;
  let y = x;
  while (y < STIRLING_FROM) {
    product *= y;
    y += 1;
  }
  return (y - 0.5) * Math.log(y) - y + HALF_LN_2PI + stirlingCorrection(y) - Math.log(product);
}

/**
 * ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b) for a, b > 0 and finite, without the cancellation of
 * that sum when a or b is large (ln Γ(10⁶) is 1.3e7, ln B(10⁶, ½) is −7.5): for large arguments the
 * Stirling terms are combined analytically and only the small remainders are added.
 *
 * @throws InvalidArgumentError(`a` or `b`) when either is not positive and finite.
 */
export function logBeta(a: number, b: number): number {
  requirePositive(a, 'a', false);
  requirePositive(b, 'b', false);
  const big = Math.max(a, b);
  const small = Math.min(a, b);
  const sum = big + small;
  if (small >= STIRLING_FROM) {
    // (a−½)ln(a/s) + (b−½)ln(b/s) − ½ln s + ½ln 2π + δ(a) + δ(b) − δ(s), with ln(big/s) = log1p(−small/s).
    return (
      (big - 0.5) * Math.log1p(-small / sum) +
      (small - 0.5) * Math.log(small / sum) -
      0.5 * Math.log(sum) +
      HALF_LN_2PI +
      stirlingCorrection(big) +
      stirlingCorrection(small) -
      stirlingCorrection(sum)
    );
  }
  if (big >= STIRLING_FROM) {
    // ln Γ(big) − ln Γ(s) = −(big − ½) log1p(small/big) − small·ln s + small + δ(big) − δ(s).
    return (
      logGamma(small) -
      (big - 0.5) * Math.log1p(small / big) -
      small * Math.log(sum) +
      small +
      stirlingCorrection(big) -
      stirlingCorrection(sum)
    );
  }
  return logGamma(big) + logGamma(small) - logGamma(sum);
}

/**
 * I_x(a, b) by the continued fraction (modified Lentz) of x^a y^b / (a B(a, b)) · 1/(1 + d₁/(1 + d₂/…)),
 * which converges fast for x below the mean, (a + 1)/(a + b + 2). ln x and ln y = ln(1 − x) come from
 * the caller, who can compute them without the rounding of 1 − x (or without underflow of x).
 */
function betaFraction(x: number, lnX: number, lnY: number, a: number, b: number): number {
  const front = Math.exp(a * lnX + b * lnY - logBeta(a, b)) / a;
  if (front === 0) return 0;
  const sum = a + b;
  let c = 1;
  let d = 1 - (sum * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_ITERATIONS; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    num = (-(a + m) * (sum + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + num / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < CONVERGED) break;
  }
  return Math.min(1, front * h);
}

/**
 * [I_x(a, b), 1 − I_x(a, b)], each computed directly on its own side of the mean so that the smaller
 * one keeps its relative accuracy. `y` is 1 − x and `lnX`, `lnY` their logarithms (x may underflow
 * while lnX stays finite, as in the far tail of the t distribution).
 */
function incompleteBeta(
  x: number,
  y: number,
  lnX: number,
  lnY: number,
  a: number,
  b: number,
): [number, number] {
  if (lnX === -Infinity) return [0, 1];
  if (lnY === -Infinity) return [1, 0];
  if (x * (a + b + 2) < a + 1) {
    const lower = betaFraction(x, lnX, lnY, a, b);
    return [lower, 1 - lower];
  }
  const upper = betaFraction(y, lnY, lnX, b, a);
  return [1 - upper, upper];
}

function betaArguments(x: number): [number, number, number, number] {
  // 1 − x is exact for x ≥ ½ (Sterbenz), and log1p keeps ln(1 − x) accurate for small x.
  return [x, 1 - x, Math.log(x), Math.log1p(-x)];
}

/**
 * The regularised incomplete beta function I_x(a, b) = P(X ≤ x) for X ~ Beta(a, b), as
 * `scipy.special.betainc(a, b, x)`. x ≤ 0 gives 0, x ≥ 1 gives 1, NaN gives NaN.
 *
 * @throws InvalidArgumentError(`a` or `b`) when either is not positive and finite.
 */
export function regularizedBeta(x: number, a: number, b: number): number {
  requirePositive(a, 'a', false);
  requirePositive(b, 'b', false);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const [xx, y, lnX, lnY] = betaArguments(x);
  return incompleteBeta(xx, y, lnX, lnY, a, b)[0];
}

/**
 * 1 − I_x(a, b) = P(X > x) for X ~ Beta(a, b), accurate when it is small, as
 * `scipy.special.betaincc(a, b, x)`. x ≤ 0 gives 1, x ≥ 1 gives 0, NaN gives NaN.
 *
 * @throws InvalidArgumentError(`a` or `b`) when either is not positive and finite.
 */
export function regularizedBetaComplement(x: number, a: number, b: number): number {
  requirePositive(a, 'a', false);
  requirePositive(b, 'b', false);
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const [xx, y, lnX, lnY] = betaArguments(x);
  return incompleteBeta(xx, y, lnX, lnY, a, b)[1];
}

/**
 * x^a e^(−x) / Γ(a), the factor in front of the gamma series and fraction. For a ≥ 10 it is
 * exp(a(ln r − (r − 1)) + ½ ln a − ½ ln 2π − δ(a)) with r = x/a, so the large terms a ln x and ln Γ(a)
 * never meet (they would leave an error of 1e-16 · a ln a in the exponent).
 */
function gammaFront(a: number, x: number): number {
  if (a < STIRLING_FROM) return Math.exp(a * Math.log(x) - x - logGamma(a));
  const r1 = (x - a) / a;
  return Math.exp(
    a * (Math.log1p(r1) - r1) + 0.5 * Math.log(a) - HALF_LN_2PI - stirlingCorrection(a),
  );
}

/** [P(a, x), Q(a, x)]: the series for x < a + 1, the continued fraction for Q above, the other by difference. */
function incompleteGamma(a: number, x: number): [number, number] {
  if (x <= 0) return [0, 1];
  if (x === Infinity) return [1, 0];
  const front = gammaFront(a, x);
  if (front === 0) return x < a ? [0, 1] : [1, 0];
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    let ap = a;
    for (let n = 1; n <= MAX_ITERATIONS; n++) {
      ap += 1;
      term *= x / ap;
      sum += term;
      if (term < sum * CONVERGED) break;
    }
    const lower = Math.min(1, sum * front);
    return [lower, 1 - lower];
  }
  // Legendre's continued fraction for Γ(a, x), modified Lentz.
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < CONVERGED) break;
  }
  const upper = Math.min(1, front * h);
  return [1 - upper, upper];
}

/**
 * The regularised lower incomplete gamma function P(a, x) = γ(a, x)/Γ(a), as
 * `scipy.special.gammainc(a, x)`. x ≤ 0 gives 0, NaN gives NaN.
 *
 * @throws InvalidArgumentError(`a`) when a is not positive and finite.
 */
export function regularizedGammaP(a: number, x: number): number {
  requirePositive(a, 'a', false);
  if (Number.isNaN(x)) return NaN;
  return incompleteGamma(a, x)[0];
}

/**
 * The regularised upper incomplete gamma function Q(a, x) = 1 − P(a, x), accurate when it is small,
 * as `scipy.special.gammaincc(a, x)`. x ≤ 0 gives 1, NaN gives NaN.
 *
 * @throws InvalidArgumentError(`a`) when a is not positive and finite.
 */
export function regularizedGammaQ(a: number, x: number): number {
  requirePositive(a, 'a', false);
  if (Number.isNaN(x)) return NaN;
  return incompleteGamma(a, x)[1];
}

/** P(Z > z) for z ≥ 0: ½ erfc(z/√2) = ½ Q(½, z²/2). */
function normalUpperTail(z: number): number {
  return 0.5 * incompleteGamma(0.5, 0.5 * z * z)[1];
}

/**
 * P(Z > z) for a standard normal Z, as `scipy.stats.norm.sf`: relative error about 1e-15, into the
 * far tail (normalSurvival(37) = 5.7e-300) without the cancellation of 1 − Φ(z). NaN gives NaN.
 */
export function normalSurvival(z: number): number {
  if (Number.isNaN(z)) return NaN;
  return z >= 0 ? normalUpperTail(z) : 1 - normalUpperTail(-z);
}

/** Φ(z) = P(Z ≤ z) for a standard normal Z, as `scipy.stats.norm.cdf`; accurate in the lower tail too. */
export function normalCdf(z: number): number {
  return normalSurvival(-z);
}

/**
 * The z with Φ(z) = q for q ≤ ½: the Abramowitz–Stegun 26.2.23 rational guess (error < 4.5e-4) refined
 * by Halley's method on the accurate Φ; cubic convergence makes two or three steps enough for 1e-15.
 */
function lowerNormalQuantile(q: number): number {
  const t = Math.sqrt(-2 * Math.log(q));
  let z = -(
    t -
    (2.515517 + t * (0.802853 + t * 0.010328)) /
      (1 + t * (1.432788 + t * (0.189269 + t * 0.001308)))
  );
  for (let i = 0; i < 10; i++) {
    const error = normalCdf(z) - q;
    if (error === 0) break;
    // u = error/φ(z) in logarithms: exp(z²/2) alone overflows beyond |z| ≈ 37.7.
    const u = Math.sign(error) * Math.exp(Math.log(Math.abs(error)) + 0.5 * z * z + HALF_LN_2PI);
    const step = u / (1 + 0.5 * z * u);
    z -= step;
    if (Math.abs(step) <= 1e-15 * Math.abs(z) || Math.abs(step) < 1e-300) break;
  }
  return z;
}

/**
 * The standard normal quantile Φ⁻¹(p), as `scipy.stats.norm.ppf`: relative error about 1e-15
 * (well below the 1e-9 asked of it) for p from 1e-300 to 1 − 1e-16. p = 0 gives −Infinity, p = 1
 * gives +Infinity. For p > ½ it is −Φ⁻¹(1 − p), and 1 − p is exact there.
 *
 * @throws InvalidArgumentError(`p`) when p is outside [0, 1] or NaN.
 */
export function normalQuantile(p: number): number {
  requireProbability(p, 'p');
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  return p < 0.5 ? lowerNormalQuantile(p) : -lowerNormalQuantile(1 - p);
}

/** B₂, B₄, …, B₂₀: the Bernoulli numbers in ln(sinh v / v) = Σ 2²ᵏ B₂ₖ v²ᵏ / (2k (2k)!). */
const BERNOULLI = [
  1 / 6,
  -1 / 30,
  1 / 42,
  -1 / 30,
  5 / 66,
  -691 / 2730,
  7 / 6,
  -3617 / 510,
  43867 / 798,
  -174611 / 330,
];

/**
 * I_x(a, b) for large a and x = e^(−u₀) near 1, where the continued fraction would cancel
 * catastrophically (its first denominator is 1 − x(a+b)/(a+1) ≈ 1e-10 at df = 10¹⁰). With s = e^(−w),
 * (1 − e^(−w))^(b−1) = e^(−(b−1)w/2) w^(b−1) h(w), h(w) = (sinh(w/2)/(w/2))^(b−1) = Σ cₙ w²ⁿ, and
 * integrating term by term (the asymptotic expansion of DiDonato & Morris's BGRAT, derived afresh):
 *
 *   I_x(a, b) = Γ(b) / (B(a, b) Tᵇ) · Σₙ cₙ (b)₂ₙ T⁻²ⁿ Q(b + 2n, T u₀),   T = a + (b − 1)/2.
 *
 * The terms fall like (u₀/2π)²ⁿ and (2n)!/(2πT)²ⁿ, so ten of them are ample for u₀ ≤ ½ and T ≥ 50;
 * the part of the integral beyond w = 2π, where the series for h diverges, is below e^(−5T) of the
 * result.
 */
function betaLargeA(a: number, b: number, u0: number): number {
  const bigT = a + 0.5 * (b - 1);
  const x = bigT * u0;
  const front = Math.exp(logGamma(b) - logBeta(a, b) - b * Math.log(bigT));
  // cₙ of exp((b − 1) Σ λₖ sᵏ), s = w², λₖ = B₂ₖ/(2k (2k)!), by e′ = L′e.
  const lambda = BERNOULLI.map((bernoulli, i) => {
    const k = i + 1;
    let factorial = 1;
    for (let j = 2; j <= 2 * k; j++) factorial *= j;
    return ((b - 1) * bernoulli) / (2 * k * factorial);
  });
  const coefficients = [1];
  let sum = incompleteGamma(b, x)[1];
  let pochhammer = 1; // (b)₂ₙ
  let inverseT2n = 1;
  for (let n = 1; n <= lambda.length; n++) {
    let cn = 0;
    for (let k = 1; k <= n; k++) cn += k * lambda[k - 1] * coefficients[n - k];
    cn /= n;
    coefficients.push(cn);
    pochhammer *= (b + 2 * n - 2) * (b + 2 * n - 1);
    inverseT2n /= bigT * bigT;
    const term = cn * pochhammer * inverseT2n * incompleteGamma(b + 2 * n, x)[1];
    sum += term;
    if (Math.abs(term) <= CONVERGED * Math.abs(sum)) break;
  }
  return Math.min(1, front * sum);
}

/**
 * [P(T > s), P(T < s)] for s = |t| ≥ 0 and T ~ t(df): P(T > s) = ½ I_x(df/2, ½) with x = df/(df + s²).
 * x, 1 − x and their logarithms come from q = s/√df so that neither a large df (x → 1) nor a huge s
 * (x underflows) loses digits.
 */
function studentTails(s: number, df: number): [number, number] {
  if (s === Infinity) return [0, 1];
  const q = s / Math.sqrt(df);
  const r = q * q;
  let x: number;
  let y: number;
  let lnX: number;
  let lnY: number;
  if (r <= 1) {
    const l = Math.log1p(r);
    x = 1 / (1 + r);
    y = r / (1 + r);
    lnX = -l;
    lnY = 2 * Math.log(q) - l;
  } else {
    const inv = 1 / r;
    const l = Math.log1p(inv);
    x = inv / (1 + inv);
    y = 1 / (1 + inv);
    lnX = -2 * Math.log(q) - l;
    lnY = -l;
  }
  if (df >= LARGE_A_FROM_DF && r <= LARGE_A_MAX_R) {
    const above = 0.5 * betaLargeA(0.5 * df, 0.5, Math.log1p(r));
    return [above, 1 - above];
  }
  const [lower, upper] = incompleteBeta(x, y, lnX, lnY, 0.5 * df, 0.5);
  return [0.5 * lower, 0.5 + 0.5 * upper];
}

/**
 * P(T > t) for T ~ Student t with `df` degrees of freedom (any real df > 0, Infinity meaning the
 * normal), as `scipy.stats.t.sf`; accurate in both tails and for large df (a Welch test on millions
 * of units). NaN gives NaN.
 *
 * @throws InvalidArgumentError(`df`) when df is not positive.
 */
export function studentTSurvival(t: number, df: number): number {
  requirePositive(df, 'df', true);
  if (Number.isNaN(t)) return NaN;
  if (df > T_IS_NORMAL_ABOVE_DF) return normalSurvival(t);
  if (t === 0) return 0.5;
  const [above, below] = studentTails(Math.abs(t), df);
  return t > 0 ? above : below;
}

/** P(T ≤ t) for T ~ t(df), as `scipy.stats.t.cdf`; see {@link studentTSurvival}. */
export function studentTCdf(t: number, df: number): number {
  return studentTSurvival(-t, df);
}

/** ln f(s) for the t(df) density at s ≥ 0: −½ ln df − ln B(df/2, ½) − (df + 1)/2 · ln(1 + s²/df). */
function studentLogDensity(s: number, df: number): number {
  const q = s / Math.sqrt(df);
  const lnOnePlus = q <= 1 ? Math.log1p(q * q) : 2 * Math.log(q) + Math.log1p(1 / (q * q));
  return -0.5 * Math.log(df) - logBeta(0.5 * df, 0.5) - 0.5 * (df + 1) * lnOnePlus;
}

/**
 * The s > 0 with P(T > s) = q for q in (0, ½). Newton's method on ln P(T > s) against ln s, where the
 * power-law tail of small df is a straight line and the normal-like tail of large df a smooth curve,
 * kept inside a bracket and bisected whenever a step would leave it. The start is the better of
 * Hill's (1970) Cornish–Fisher expansion around the normal quantile and the power-law tail
 * P(T > s) ≈ f(s)·s/df.
 */
function upperStudentQuantile(q: number, df: number): number {
  if (df === 1) return 1 / Math.tan(Math.PI * q);
  if (df === 2) return (1 - 2 * q) / Math.sqrt(2 * q * (1 - q));
  const lnQ = Math.log(q);
  const misfit = (u: number): number => Math.log(studentTails(Math.exp(u), df)[0]) - lnQ;

  const z = -normalQuantile(q);
  const z2 = z * z;
  const cornishFisher =
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * (3 + z2 * (16 + 5 * z2))) / (96 * df * df) +
    (z * (-15 + z2 * (17 + z2 * (19 + 3 * z2)))) / (384 * df * df * df);
  const lnK = -0.5 * Math.log(df) - logBeta(0.5 * df, 0.5);
  const powerLaw = (lnK + 0.5 * (df - 1) * Math.log(df) - lnQ) / df;
  const candidates = [powerLaw];
  if (cornishFisher > 0 && Number.isFinite(cornishFisher)) candidates.push(Math.log(cornishFisher));
  let u = candidates[0];
  let g = misfit(u);
  for (const candidate of candidates.slice(1)) {
    const gc = misfit(candidate);
    if (Math.abs(gc) < Math.abs(g)) {
      u = candidate;
      g = gc;
    }
  }

  let lo = -Infinity; // misfit > 0 here: s too small
  let hi = Infinity; // misfit < 0 here: s too large
  for (let i = 0; i < 200; i++) {
    if (g === 0) return Math.exp(u);
    if (g > 0) lo = Math.max(lo, u);
    else hi = Math.min(hi, u);
    const s = Math.exp(u);
    const tail = studentTails(s, df)[0];
    // d ln P(T > s) / d ln s = −s f(s) / P(T > s).
    const slope = -Math.exp(u + studentLogDensity(s, df)) / tail;
    let next = u - g / slope;
    if (!(next > lo && next < hi)) {
      if (Number.isFinite(lo) && Number.isFinite(hi)) next = 0.5 * (lo + hi);
      else next = g > 0 ? u + 1 : u - 1;
    }
    if (Math.abs(next - u) <= 1e-14 * Math.max(1, Math.abs(u))) return Math.exp(next);
    u = next;
    g = misfit(u);
  }
  return Math.exp(u);
}

/**
 * The Student t quantile: the t with P(T ≤ t) = p for T ~ t(df), any real df > 0 (Infinity meaning
 * the normal), as `scipy.stats.t.ppf`, to a relative error about 1e-13. p = 0 gives −Infinity, p = 1
 * gives +Infinity; symmetric about p = ½, with 1 − p exact for p > ½.
 *
 * @throws InvalidArgumentError(`p`) when p is outside [0, 1]; (`df`) when df is not positive.
 */
export function studentTQuantile(p: number, df: number): number {
  requireProbability(p, 'p');
  requirePositive(df, 'df', true);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  if (df > T_IS_NORMAL_ABOVE_DF) return normalQuantile(p);
  return p < 0.5 ? -upperStudentQuantile(p, df) : upperStudentQuantile(1 - p, df);
}

/**
 * P(X > x) for X ~ χ²(df), any real df > 0, as `scipy.stats.chi2.sf`: Q(df/2, x/2), accurate when
 * small. x ≤ 0 gives 1, NaN gives NaN.
 *
 * @throws InvalidArgumentError(`df`) when df is not positive and finite.
 */
export function chiSquareSurvival(x: number, df: number): number {
  requirePositive(df, 'df', false);
  if (Number.isNaN(x)) return NaN;
  return incompleteGamma(0.5 * df, 0.5 * x)[1];
}

/** P(X ≤ x) for X ~ χ²(df), as `scipy.stats.chi2.cdf`; see {@link chiSquareSurvival}. */
export function chiSquareCdf(x: number, df: number): number {
  requirePositive(df, 'df', false);
  if (Number.isNaN(x)) return NaN;
  return incompleteGamma(0.5 * df, 0.5 * x)[0];
}
