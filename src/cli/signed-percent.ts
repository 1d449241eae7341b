/**
 * A fraction as a percentage with exactly one sign: `+12.3%`, `-0.4%`, and `0.0%` when it
 * rounds to zero (no `-0.0%`). Use it wherever a change is shown with its direction, instead of
 * putting a sign before a number that may carry its own (`−-0.13%`).
 * @param fraction e.g. 0.123 for 12.3%; NaN prints `n/a`
 * @param digits decimals after the point @defaultValue 1
 * @example signedPercent(-0.0013, 2) // '-0.13%'
 */
export function signedPercent(fraction: number, digits = 1): string {
  if (Number.isNaN(fraction)) return 'n/a';
  const magnitude = (100 * Math.abs(fraction)).toFixed(digits);
  const zero = Number(magnitude) === 0;
  return `${zero ? '' : fraction < 0 ? '-' : '+'}${magnitude}%`;
}
