/**
 * Generalisation hierarchies for quasi-identifiers: numeric bands, date truncation, prefix
 * truncation, category maps and frequency tops. Level 0 is always the value itself, levels
 * 1…m are the spec's, level m+1 is `*` (the column fully suppressed).
 */
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlLiteral } from '../data/duckdb-sql.js';
import {
  type DateUnit,
  dateLabel,
  dateLabelSql,
  dateSpanMs,
  type ParsedDate,
  parseDate,
} from './date-labels.js';
import { type GeneraliserSpec, type SpecKind, validateSpec } from './generaliser-spec.js';

export type { DateUnit } from './date-labels.js';
export type { GeneraliserSpec } from './generaliser-spec.js';

/** The label of the top level: the column fully suppressed. */
export const SUPPRESSED_LABEL = '*';

/**
 * A column's hierarchy over its distinct values: for each level, the group of each value, the
 * group's label and its information loss. Built by {@link buildHierarchy}.
 */
export interface Hierarchy {
  /** The column it generalises (for messages). */
  readonly column: string;
  readonly spec: GeneraliserSpec;
  /** Number of levels: the value (0), the spec's levels, and `*`. */
  readonly levels: number;
  /** A readable name per level, e.g. `value`, `band 10`, `week`, `prefix 3`, `map 1`, `top 3`, `*`. */
  readonly names: readonly string[];
  /** The distinct values it was built over (null included when present), in the given order. */
  readonly values: readonly (string | null)[];
  /** groupOf[level][i]: the group at `level` of `values[i]` (dense, 0-based per level). */
  readonly groupOf: readonly Int32Array[];
  /** labels[level][g]: the label of group g at `level` (null for the null value's group below `*`). */
  readonly labels: readonly (readonly (string | null)[])[];
  /**
   * loss[level][g] in [0, 1]: Iyengar's loss metric of a value generalised to group g — the
   * group's share of the column's domain (band width ÷ range, date span ÷ data span, for
   * categorical levels (distinct values in the group − 1) ÷ (distinct values − 1)); 0 at level 0, 1 at `*`.
   */
  readonly loss: readonly Float64Array[];
}

/** The label `top` gives the values it does not keep. */
export const OTHER_LABEL = 'other';

/** One level above the value before its groups are formed: a label per value and a loss per group. */
interface LevelDraft {
  readonly name: string;
  readonly labels: (string | null)[];
  /** The loss of a non-null group, given one member's index and its number of non-null values. */
  readonly groupLoss: (member: number, members: number) => number;
}

/**
 * Builds `column`'s hierarchy over its distinct `values` (`counts[i]` rows each, used by `top`;
 * without counts every value counts 1, so `top` keeps the first values in string order).
 * Groups are numbered in the order of their first value. The null value, when present, is a
 * group of its own labelled null (loss 0) at every level below `*`.
 * Loss of a group: `band` width ÷ (max − min) capped at 1; `date` the period's length (months,
 * quarters and years as they fall on the calendar) ÷ the values' span capped at 1; 0 when the
 * range or span is 0; `prefix`, `map`, `top` (non-null values in the group − 1) ÷ (non-null
 * distinct values − 1), so `top`'s kept values lose 0 and `other` loses (members − 1) ÷ (distinct − 1).
 * @throws DataError naming the column and the value when a value does not fit the spec (not a
 *   number for `band`, not a date for `date`, missing from a `map`).
 * @throws InvalidArgumentError naming the field (`generalise.band`, `generalise.origin`,
 *   `generalise.date`, `generalise.prefix`, `generalise.map`, `generalise.top`) for a malformed
 *   spec (widths not increasing multiples, prefix lengths or top sizes not decreasing, date units
 *   not finer-to-coarser or a week followed by a unit it does not nest in, empty levels…), and
 *   `counts` when its length differs from `values`.
 */
export function buildHierarchy(
  column: string,
  spec: GeneraliserSpec,
  values: readonly (string | null)[],
  counts?: ArrayLike<number>,
): Hierarchy {
  if (counts !== undefined && counts.length !== values.length) {
    throw new InvalidArgumentError(
      'counts',
      `has ${counts.length} entries for ${values.length} values`,
    );
  }
  const kind = validateSpec(spec);
  let distinct = 0;
  for (const v of values) if (v !== null) distinct++;
  const categorical = (_member: number, members: number): number =>
    distinct > 1 ? (members - 1) / (distinct - 1) : 0;
  let drafts: LevelDraft[];
  switch (kind) {
    case 'band':
      drafts = bandLevels(column, spec as { band: readonly number[]; origin?: number }, values);
      break;
    case 'date':
      drafts = dateLevels(column, (spec as { date: readonly DateUnit[] }).date, values);
      break;
    case 'prefix':
      drafts = (spec as { prefix: readonly number[] }).prefix.map((n) => ({
        name: `prefix ${n}`,
        labels: values.map((v) => (v === null ? null : prefixLabel(v, n))),
        groupLoss: categorical,
      }));
      break;
    case 'map': {
      const maps = (spec as { map: readonly Readonly<Record<string, string>>[] }).map;
      let below: readonly (string | null)[] = values;
      drafts = maps.map((map, i) => {
        const labels = below.map((v) => {
          if (v === null) return null;
          if (!Object.hasOwn(map, v)) {
            throw new DataError(
              { column },
              `${JSON.stringify(v)} is not in generalise.map[${i}] (level ${i + 1})`,
            );
          }
          return map[v];
        });
        below = labels;
        return { name: `map ${i + 1}`, labels, groupLoss: categorical };
      });
      break;
    }
    case 'top': {
      const rank = topRanks(values, counts);
      drafts = (spec as { top: readonly number[] }).top.map((n) => ({
        name: `top ${n}`,
        labels: values.map((v, i) => (v === null ? null : rank[i] < n ? v : OTHER_LABEL)),
        groupLoss: categorical,
      }));
      break;
    }
  }
  const levels = drafts.length + 2;
  const names = ['value', ...drafts.map((d) => d.name), SUPPRESSED_LABEL];
  const groupOf: Int32Array[] = [];
  const labels: (string | null)[][] = [];
  const loss: Float64Array[] = [];
  const all: LevelDraft[] = [
    { name: 'value', labels: values.slice(), groupLoss: () => 0 },
    ...drafts,
    { name: SUPPRESSED_LABEL, labels: values.map(() => SUPPRESSED_LABEL), groupLoss: () => 1 },
  ];
  for (let level = 0; level < levels; level++) {
    const draft = all[level];
    const ids = new Map<string | null, number>();
    const of = new Int32Array(values.length);
    const first: number[] = [];
    const members: number[] = [];
    for (let i = 0; i < values.length; i++) {
      const label = draft.labels[i];
      let g = ids.get(label);
      if (g === undefined) {
        g = ids.size;
        ids.set(label, g);
        first.push(i);
        members.push(0);
      }
      of[i] = g;
      if (values[i] !== null) members[g]++;
    }
    const groupLoss = new Float64Array(ids.size);
    for (let g = 0; g < ids.size; g++) {
      const label = draft.labels[first[g]];
      groupLoss[g] =
        level === levels - 1 ? 1 : label === null ? 0 : draft.groupLoss(first[g], members[g]);
    }
    if (level > 0) checkNests(kind, level, groupOf[level - 1], of, values);
    groupOf.push(of);
    labels.push([...ids.keys()]);
    loss.push(groupLoss);
  }
  return { column, spec, levels, names, values: values.slice(), groupOf, labels, loss };
}

/**
 * A DuckDB SQL expression (VARCHAR) giving `expr`'s label at `level` of `hierarchy`, the same
 * label {@link Hierarchy.labels} holds for that value: what the export runs over every row.
 * `band`, `date` and `prefix` are computed in SQL; `map` and `top` become a CASE over the
 * hierarchy's values (a value `top` has not seen is `other`; one a `map` hierarchy has not seen
 * raises a DuckDB error rather than slipping through). Level 0 is `CAST(expr AS VARCHAR)`; the
 * top level is `'*'`; null stays null below it.
 * @throws InvalidArgumentError naming `level` when it is not a level of the hierarchy.
 */
export function generaliseSql(hierarchy: Hierarchy, level: number, expr: string): string {
  if (!Number.isInteger(level) || level < 0 || level >= hierarchy.levels) {
    throw new InvalidArgumentError(
      'level',
      `must be an integer in [0, ${hierarchy.levels - 1}] for ${hierarchy.column}, got ${level}`,
    );
  }
  const text = `CAST((${expr}) AS VARCHAR)`;
  if (level === 0) return text;
  if (level === hierarchy.levels - 1) return sqlLiteral(SUPPRESSED_LABEL);
  const spec = hierarchy.spec;
  if ('band' in spec) {
    const w = sqlDouble(spec.band[level - 1]);
    const o = sqlDouble(spec.origin ?? 0);
    const lo = `(${o} + floor((CAST((${expr}) AS DOUBLE) - ${o}) / ${w}) * ${w})`;
    return `('[' || ${numberSql(lo)} || ',' || ${numberSql(`(${lo} + ${w})`)} || ')')`;
  }
  if ('date' in spec) return dateLabelSql(text, spec.date[level - 1]);
  if ('prefix' in spec) {
    const n = spec.prefix[level - 1];
    return `CASE WHEN length(${text}) < ${n} THEN ${text} ELSE left(${text}, ${n}) || '*' END`;
  }
  if ('top' in spec) {
    const kept = hierarchy.values.filter(
      (v, i) => v !== null && hierarchy.labels[level][hierarchy.groupOf[level][i]] !== OTHER_LABEL,
    ) as string[];
    const inKept = kept.length === 0 ? 'false' : `${text} IN (${kept.map(sqlLiteral).join(', ')})`;
    return `CASE WHEN ${text} IS NULL THEN NULL WHEN ${inKept} THEN ${text} ELSE ${sqlLiteral(OTHER_LABEL)} END`;
  }
  const whens = hierarchy.values
    .map((v, i) =>
      v === null
        ? ''
        : ` WHEN ${sqlLiteral(v)} THEN ${sqlLiteral(hierarchy.labels[level][hierarchy.groupOf[level][i]] as string)}`,
    )
    .join('');
  const unknown = `error(${sqlLiteral(`${hierarchy.column}: a value the hierarchy lacks: `)} || ${text})`;
  return `CASE WHEN ${text} IS NULL THEN NULL ELSE CASE ${text}${whens} ELSE ${unknown} END END`;
}

/** The band label's number: integers without decimals, like JavaScript's String. */
function formatNumber(x: number): string {
  return String(x);
}

/** The SQL twin of {@link formatNumber} for a DOUBLE expression. */
function numberSql(v: string): string {
  return `CASE WHEN ${v} = trunc(${v}) AND abs(${v}) < 1e15 THEN CAST(CAST(${v} AS BIGINT) AS VARCHAR) ELSE CAST(${v} AS VARCHAR) END`;
}

// A plain 0.1 is a DECIMAL in DuckDB; the arithmetic must be in doubles to match Node's.
function sqlDouble(x: number): string {
  return `CAST('${String(x)}' AS DOUBLE)`;
}

function prefixLabel(v: string, n: number): string {
  // Code points, as DuckDB's left() and length() count them, not UTF-16 units.
  const chars = Array.from(v);
  return chars.length < n ? v : `${chars.slice(0, n).join('')}*`;
}

function bandLevels(
  column: string,
  spec: { band: readonly number[]; origin?: number },
  values: readonly (string | null)[],
): LevelDraft[] {
  const origin = spec.origin ?? 0;
  const xs = values.map((v) => {
    if (v === null) return Number.NaN;
    const x = v.trim() === '' ? Number.NaN : Number(v);
    if (!Number.isFinite(x)) {
      throw new DataError({ column }, `${JSON.stringify(v)} is not a number (generalise.band)`);
    }
    return x;
  });
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xs) {
    if (Number.isNaN(x)) continue;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const range = max > min ? max - min : 0;
  return spec.band.map((w) => ({
    name: `band ${formatNumber(w)}`,
    labels: xs.map((x) => {
      if (Number.isNaN(x)) return null;
      const lo = origin + Math.floor((x - origin) / w) * w;
      return `[${formatNumber(lo)},${formatNumber(lo + w)})`;
    }),
    groupLoss: () => (range > 0 ? Math.min(1, w / range) : 0),
  }));
}

function dateLevels(
  column: string,
  units: readonly DateUnit[],
  values: readonly (string | null)[],
): LevelDraft[] {
  const parsed: (ParsedDate | null)[] = values.map((v) => {
    if (v === null) return null;
    const d = parseDate(v);
    if (d === undefined) {
      throw new DataError({ column }, `${JSON.stringify(v)} is not a date (generalise.date)`);
    }
    return d;
  });
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const d of parsed) {
    if (d === null) continue;
    if (d.ms < min) min = d.ms;
    if (d.ms > max) max = d.ms;
  }
  const span = max > min ? max - min : 0;
  return units.map((unit) => ({
    name: unit,
    labels: parsed.map((d) => (d === null ? null : dateLabel(d, unit))),
    groupLoss: (member: number) =>
      span > 0 ? Math.min(1, dateSpanMs(parsed[member] as ParsedDate, unit) / span) : 0,
  }));
}

/** Each value's rank by count (descending), ties by value; null ranks last. */
function topRanks(values: readonly (string | null)[], counts?: ArrayLike<number>): Int32Array {
  const order = values.map((_, i) => i);
  const count = (i: number): number => (counts === undefined ? 1 : counts[i]);
  order.sort((a, b) => {
    const va = values[a];
    const vb = values[b];
    if (va === null || vb === null) return va === null ? (vb === null ? 0 : 1) : -1;
    return count(b) - count(a) || (va < vb ? -1 : va > vb ? 1 : 0);
  });
  const rank = new Int32Array(values.length);
  order.forEach((i, r) => {
    rank[i] = r;
  });
  return rank;
}

// A level whose groups split a group of the level below would break the lattice's monotonicity
// (floating-point band widths can do it), so it is refused rather than searched.
function checkNests(
  kind: SpecKind,
  level: number,
  below: Int32Array,
  of: Int32Array,
  values: readonly (string | null)[],
): void {
  const parent = new Map<number, number>();
  for (let i = 0; i < of.length; i++) {
    const p = parent.get(below[i]);
    if (p === undefined) parent.set(below[i], of[i]);
    else if (p !== of[i]) {
      throw new InvalidArgumentError(
        `generalise.${kind}`,
        `level ${level} does not nest in level ${level - 1}: ${JSON.stringify(values[i])} leaves its group`,
      );
    }
  }
}
