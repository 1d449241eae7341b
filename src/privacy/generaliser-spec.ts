/**
 * Validation of a {@link GeneraliserSpec}, apart from the hierarchy building so that each error
 * names the spec field at fault before any value is looked at.
 */
import { InvalidArgumentError } from '../core/errors.js';
import { DATE_UNITS, type DateUnit } from './date-labels.js';

/**
 * How a column is generalised, one entry per level above the value itself (finest first):
 * - `band`: numeric bands of these widths, each a multiple of the previous one
 *   (`[5, 10, 20]`), labelled `[20,30)`; bands start at `origin` (default 0);
 * - `date`: a date or timestamp truncated to these units, labelled `2026-12-07` (day),
 *   `2026-W49` (ISO week), `2026-12` (month), `2026-Q4` (quarter), `2026` (year), `2026-12-07T13` (hour);
 * - `prefix`: the first n characters followed by `*` (`[4, 3, 2]`: `1234*`, `123*`, `12*`);
 * - `map`: category maps, each mapping every value of the level below to a group label
 *   (level 1 maps values, level 2 maps level-1 labels, …); a value a map lacks is an error;
 * - `top`: keep the n most frequent values (ties by value) and label the rest `other` (`[10, 3]`).
 * Nulls stay null at every level below `*`.
 */
export type GeneraliserSpec =
  | { band: readonly number[]; origin?: number }
  | { date: readonly DateUnit[] }
  | { prefix: readonly number[] }
  | { map: readonly Readonly<Record<string, string>>[] }
  | { top: readonly number[] };

/** Which generaliser a spec is. */
export type SpecKind = 'band' | 'date' | 'prefix' | 'map' | 'top';

/**
 * Checks `spec` and says which generaliser it is.
 * @throws InvalidArgumentError naming `generalise` (not exactly one kind), `generalise.origin`, or
 *   `generalise.<kind>` (empty levels, band widths not multiples of at least 2 of the previous,
 *   date units not finer-to-coarser or a week followed by a coarser unit, prefix lengths or top
 *   sizes not decreasing positive integers, a map level not an object of string labels).
 */
export function validateSpec(spec: GeneraliserSpec): SpecKind {
  const kinds = (['band', 'date', 'prefix', 'map', 'top'] as const).filter((k) =>
    Object.hasOwn(spec, k),
  );
  if (kinds.length !== 1) {
    throw new InvalidArgumentError(
      'generalise',
      'must have exactly one of band, date, prefix, map, top',
    );
  }
  const kind = kinds[0];
  const field = `generalise.${kind}`;
  const levels = (spec as Record<string, unknown>)[kind];
  if (!Array.isArray(levels) || levels.length === 0) {
    throw new InvalidArgumentError(field, 'must be a non-empty list of levels');
  }
  switch (kind) {
    case 'band': {
      const origin = (spec as { origin?: unknown }).origin;
      if (origin !== undefined && (typeof origin !== 'number' || !Number.isFinite(origin))) {
        throw new InvalidArgumentError(
          'generalise.origin',
          `must be a finite number, got ${origin}`,
        );
      }
      levels.forEach((w, i) => {
        if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) {
          throw new InvalidArgumentError(field, `width ${i} must be a positive number, got ${w}`);
        }
        if (i > 0) {
          const ratio = w / levels[i - 1];
          if (ratio < 1.5 || Math.abs(ratio - Math.round(ratio)) > 1e-9) {
            throw new InvalidArgumentError(
              field,
              `width ${i} (${w}) must be a multiple of at least 2 of width ${i - 1} (${levels[i - 1]}) so that the bands nest`,
            );
          }
        }
      });
      break;
    }
    case 'date': {
      let previous = -1;
      levels.forEach((unit, i) => {
        const at = DATE_UNITS.indexOf(unit);
        if (at < 0) {
          throw new InvalidArgumentError(
            field,
            `unit ${i} must be one of ${DATE_UNITS.join(', ')}, got ${unit}`,
          );
        }
        if (at <= previous) {
          throw new InvalidArgumentError(
            field,
            `units must go from finer to coarser, ${unit} after ${levels[i - 1]}`,
          );
        }
        if (levels[i - 1] === 'week') {
          throw new InvalidArgumentError(
            field,
            `a week does not nest in a ${unit} (ISO weeks straddle them); put week last`,
          );
        }
        previous = at;
      });
      break;
    }
    case 'prefix':
    case 'top':
      levels.forEach((n, i) => {
        if (!Number.isInteger(n) || n < 1) {
          throw new InvalidArgumentError(field, `level ${i} must be a positive integer, got ${n}`);
        }
        if (i > 0 && n >= levels[i - 1]) {
          throw new InvalidArgumentError(field, `must decrease, ${n} after ${levels[i - 1]}`);
        }
      });
      break;
    case 'map':
      levels.forEach((map, i) => {
        if (typeof map !== 'object' || map === null || Array.isArray(map)) {
          throw new InvalidArgumentError(field, `level ${i} must be an object of labels`);
        }
        for (const [key, label] of Object.entries(map)) {
          if (typeof label !== 'string') {
            throw new InvalidArgumentError(
              field,
              `level ${i} maps ${JSON.stringify(key)} to a non-string`,
            );
          }
        }
      });
      break;
  }
  return kind;
}
