/**
 * The differentially private aggregates mode of an export: per-unit contribution bounding in
 * DuckDB, exact integer noise on each cell's count and bounded sums, and key selection from a
 * public list or by a noisy threshold.
 */
import { randomInt } from 'node:crypto';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlIdent } from '../data/duckdb-sql.js';
import type { AggregatesRelease, ColumnTreatment, Measure } from './export-policy.js';
import { type ExportTable, SOURCE_VIEW, distinctValues, tableSql } from './export-table.js';
import { buildHierarchy, generaliseSql } from './generalisers.js';
import {
  type NoiseMechanism,
  type Rational,
  addNoise,
  calibrateNoise,
  noiseTail,
  noiseUpperQuantile,
  toRational,
} from './noise-mechanisms.js';
import type { PrivacySpend } from './privacy-ledger.js';

/** One noisy quantity of every cell: the count, or a bounded sum of a column. */
export interface NoisyQuantity {
  /** `count`, or `sum_<column>` as written in the output. */
  name: string;
  /** The measure (absent for the count). */
  measure?: Extract<Measure, { kind: 'sum' | 'mean' }>;
  /**
   * The largest |value| one row adds, in resolution units (1 for the count). Sums add each value's
   * distance from the middle of its bounds (the released sum adds middle × noisy count back),
   * which halves the sensitivity of a range such as [0.5, 5] against summing the values themselves.
   */
  perRow: number;
  /** L1 and squared L2 sensitivity of the cell vector to one privacy unit. */
  l1: number;
  l2Squared: number;
  mechanism: NoiseMechanism;
  /** Half-width of a 95% interval of the noise (the 97.5% upper quantile). */
  error95: number;
}

/** What an aggregates release will do, as `kiban export plan` shows it. */
export interface AggregatesPlan {
  mode: 'aggregates';
  release: AggregatesRelease;
  quantities: NoisyQuantity[];
  /** Released cells need a noisy count ≥ this; null to release every public key. */
  threshold: number | null;
  /** The δ of key selection by threshold (0 with public keys). */
  delta: number;
  /** What the release spends in all. */
  spend: PrivacySpend;
  /** Source rows, rows dropped for a null privacy unit, rows dropped by contribution bounds. */
  rows: number;
  nullUnitRows: number;
  boundedAwayRows: number;
  /** Candidate cells (public keys, or groups in the data). */
  cells: number;
}

const CELLS = 'export_cells';
const NOISY = 'export_noisy';

/**
 * Calibrates the noise (the budget split evenly over the count and each sum), the threshold and
 * its δ, and bounds each unit's contributions into the candidate cells (table `export_cells`).
 * @throws InvalidArgumentError naming the policy field for a bad combination.
 */
export async function planAggregates(
  table: ExportTable,
  release: AggregatesRelease,
): Promise<AggregatesPlan> {
  for (const [field, names] of [
    ['privacyUnit', release.privacyUnit],
    ['measures', release.measures.flatMap((m) => (m.kind === 'count' ? [] : [m.column]))],
  ] as const)
    for (const name of names)
      if (!table.columns.has(name))
        throw new DataError(
          { column: name },
          `release.${field}: the source has no column "${name}"; it has ${[...table.columns.keys()].map((c) => `"${c}"`).join(', ')}`,
        );
  const G = release.maxGroupsPerUnit;
  const R = release.maxRowsPerGroup;
  const sums = release.measures.filter((m) => m.kind !== 'count');
  const distinctSums = new Map<string, Extract<Measure, { kind: 'sum' | 'mean' }>>();
  for (const m of sums) {
    const key = `${m.column}`;
    const seen = distinctSums.get(key);
    if (seen !== undefined && (seen.lower !== m.lower || seen.upper !== m.upper))
      throw new InvalidArgumentError(
        `release.measures`,
        `"${m.column}" is measured twice with different bounds; use one pair of bounds per column`,
      );
    distinctSums.set(key, m);
  }
  const q = 1 + distinctSums.size;
  const split = (total: string | undefined, field: string): Rational | undefined => {
    if (total === undefined) return undefined;
    const r = toRational(total, field);
    return { num: r.num, den: r.den * BigInt(q) };
  };
  const epsilon = split(release.epsilon, 'release.epsilon');
  const rho = split(release.rho, 'release.rho');
  const quantity = (name: string, perRow: number, measure?: NoisyQuantity['measure']) => {
    const l1 = G * R * perRow;
    const l2Squared = G * (R * perRow) ** 2;
    const mechanism = calibrateNoise({
      kind: release.noise,
      ...(epsilon === undefined ? {} : { epsilon }),
      ...(rho === undefined ? {} : { rho }),
      l1Sensitivity: l1,
      l2SensitivitySquared: l2Squared,
    });
    return {
      name,
      ...(measure === undefined ? {} : { measure }),
      perRow,
      l1,
      l2Squared,
      mechanism,
      error95: noiseUpperQuantile(mechanism, 0.025),
    } satisfies NoisyQuantity;
  };
  const quantities: NoisyQuantity[] = [quantity('count', 1)];
  for (const m of distinctSums.values())
    quantities.push(
      quantity(`sum_${m.column}`, Math.ceil((m.upper - m.lower) / 2 / m.resolution), m),
    );
  const count = quantities[0].mechanism;
  let threshold: number | null = null;
  let delta = 0;
  const t = release.keys.threshold;
  if (release.keys.public !== undefined) threshold = typeof t === 'number' ? t : null;
  else if (typeof t === 'number') {
    threshold = t;
    delta = Math.min(1, G * noiseTail(count, t - R));
  } else if (t !== undefined) {
    threshold = noiseUpperQuantile(count, t.delta / G) + R;
    delta = Math.min(1, G * noiseTail(count, threshold - R));
  }
  const spend: PrivacySpend = {
    ...(release.epsilon === undefined ? {} : { epsilon: Number(release.epsilon) }),
    ...(release.rho === undefined ? {} : { rho: Number(release.rho) }),
    ...(delta > 0 ? { delta } : {}),
  };

  const bounded = await boundContributions(table, release, [...distinctSums.values()]);
  return { mode: 'aggregates', release, quantities, threshold, delta, spend, ...bounded };
}

/** The SQL of a treated column: its generalised label at the policy's level (default 1), else itself. */
async function columnSql(table: ExportTable, column: string): Promise<string> {
  const t = table.treatments.get(column) as ColumnTreatment;
  const id = sqlIdent(column);
  if (t.kind !== 'generalise') return `CAST(${id} AS VARCHAR)`;
  const needsValues = 'map' in t.spec || 'top' in t.spec;
  const { values, counts } = needsValues
    ? await distinctValues(table.con, id)
    : { values: [], counts: new Float64Array(0) };
  return generaliseSql(buildHierarchy(column, t.spec, values, counts), t.level ?? 1, id);
}

async function boundContributions(
  table: ExportTable,
  release: AggregatesRelease,
  sums: Extract<Measure, { kind: 'sum' | 'mean' }>[],
): Promise<Pick<AggregatesPlan, 'rows' | 'nullUnitRows' | 'boundedAwayRows' | 'cells'>> {
  const { con } = table;
  const g = release.groupBy.map((_, i) => `g${i}`);
  const u = release.privacyUnit.map((_, i) => `u${i}`);
  const selects = [
    ...(await Promise.all(
      release.groupBy.map(async (c, i) => `${await columnSql(table, c)} AS g${i}`),
    )),
    ...(await Promise.all(
      release.privacyUnit.map(async (c, i) => `${await columnSql(table, c)} AS u${i}`),
    )),
    ...sums.map(
      (m, i) =>
        // A null value counts as the middle of the bounds (0 after centring).
        `coalesce(CAST(round((least(greatest(CAST(${sqlIdent(m.column)} AS DOUBLE), ${m.lower}), ${m.upper}) - ${(m.lower + m.upper) / 2}) / ${m.resolution}) AS BIGINT), 0) AS m${i}`,
    ),
  ];
  const seed = randomInt(2 ** 31);
  const keyed = release.keys.public !== undefined;
  if (keyed) {
    const pub = release.keys.public as NonNullable<AggregatesRelease['keys']['public']>;
    await con.run(
      `CREATE OR REPLACE TABLE export_keys AS SELECT DISTINCT ${release.groupBy
        .map((c, i) => `CAST(${sqlIdent(c)} AS VARCHAR) AS g${i}`)
        .join(', ')} FROM ${tableSql(pub)}`,
    );
  }
  const onKeys = g.map((c) => `t.${c} IS NOT DISTINCT FROM k.${c}`).join(' AND ');
  await con.run(
    `CREATE OR REPLACE TABLE export_rows AS SELECT ${selects.join(', ')} FROM ${SOURCE_VIEW}`,
  );
  const nullUnitRows = Number(
    (
      await con.runAndReadAll(
        `SELECT count(*) FROM export_rows WHERE ${u.map((c) => `${c} IS NULL`).join(' OR ')}`,
      )
    ).getRowsJS()[0][0],
  );
  const sumCols = sums.map((_, i) => `, sum(m${i})::DOUBLE AS s${i}`).join('');
  await con.run(`CREATE OR REPLACE TABLE export_bounded AS
WITH t AS (SELECT * FROM export_rows t ${keyed ? `SEMI JOIN export_keys k ON ${onKeys}` : ''}
           WHERE ${u.map((c) => `${c} IS NOT NULL`).join(' AND ')}),
r AS (SELECT *, row_number() OVER (PARTITION BY ${[...u, ...g].join(', ')} ORDER BY random()) AS rn FROM t),
r2 AS (SELECT *, dense_rank() OVER (PARTITION BY ${u.join(', ')} ORDER BY hash(${[...u, ...g].join(', ')}, ${seed}), ${g.join(', ')}) AS gr
       FROM r WHERE rn <= ${release.maxRowsPerGroup})
SELECT ${g.join(', ')}, count(*)::DOUBLE AS n${sumCols} FROM r2 WHERE gr <= ${release.maxGroupsPerUnit} GROUP BY ALL`);
  const zeroSums = sums.map((_, i) => `, coalesce(b.s${i}, 0) AS s${i}`).join('');
  await con.run(
    keyed
      ? `CREATE OR REPLACE TABLE ${CELLS} AS SELECT row_number() OVER (ORDER BY ${g.map((c) => `k.${c}`).join(', ')}) - 1 AS rid, ${g.map((c) => `k.${c}`).join(', ')}, coalesce(b.n, 0) AS n${zeroSums}
         FROM export_keys k LEFT JOIN export_bounded b ON ${g.map((c) => `b.${c} IS NOT DISTINCT FROM k.${c}`).join(' AND ')}`
      : `CREATE OR REPLACE TABLE ${CELLS} AS SELECT row_number() OVER (ORDER BY ${g.join(', ')}) - 1 AS rid, * FROM export_bounded`,
  );
  const kept = (
    await con.runAndReadAll(`SELECT coalesce(sum(n), 0)::DOUBLE, count(*) FROM ${CELLS}`)
  ).getRowsJS()[0];
  await con.run('DROP TABLE export_rows');
  return {
    rows: table.rows,
    nullUnitRows,
    boundedAwayRows: table.rows - nullUnitRows - Number(kept[0]),
    cells: Number(kept[1]),
  };
}

/** What {@link noisyCells} released. */
export interface NoisyCells {
  /** Cells written. */
  released: number;
  /** The query of the released table: group columns, count, sums and means, by group. */
  selectSql: string;
}

/**
 * Draws the noise for every candidate cell, keeps those whose noisy count reaches the threshold,
 * and returns the query of the release: the group columns (text), `count` (≥ 0), `sum_<col>` and
 * `mean_<col>` (noisy sum ÷ noisy count, within the bounds; null when the count is below 1).
 */
export async function noisyCells(table: ExportTable, plan: AggregatesPlan): Promise<NoisyCells> {
  const { con } = table;
  const columns = (
    await con.runAndReadAll(
      `SELECT n${plan.quantities
        .slice(1)
        .map((_, i) => `, s${i}`)
        .join('')} FROM ${CELLS} ORDER BY rid`,
    )
  ).getColumnsJS();
  const noisy = plan.quantities.map((qty, i) =>
    addNoise(Float64Array.from(columns[i] as number[], Number), qty.mechanism),
  );
  const count = noisy[0];
  await con.run(
    `CREATE OR REPLACE TABLE ${NOISY} (rid BIGINT, n DOUBLE${plan.quantities
      .slice(1)
      .map((_, i) => `, s${i} DOUBLE`)
      .join('')})`,
  );
  const appender = await con.createAppender(NOISY);
  let released = 0;
  for (let r = 0; r < count.length; r++) {
    if (plan.threshold !== null && count[r] < plan.threshold) continue;
    appender.appendBigInt(BigInt(r));
    appender.appendDouble(Math.max(0, count[r]));
    for (let i = 1; i < noisy.length; i++) appender.appendDouble(noisy[i][r]);
    appender.endRow();
    released++;
  }
  appender.flushSync();
  appender.closeSync();
  const outputs = plan.release.groupBy.map((c, i) => `c.g${i} AS ${sqlIdent(c)}`);
  outputs.push('CAST(z.n AS BIGINT) AS "count"');
  const sumIndex = new Map(plan.quantities.slice(1).map((q, i) => [q.measure?.column, i]));
  for (const m of plan.release.measures) {
    if (m.kind === 'count') continue;
    const mid = (m.lower + m.upper) / 2;
    const s = `(z.s${sumIndex.get(m.column)} * ${m.resolution} + ${mid} * z.n)`;
    outputs.push(
      m.kind === 'sum'
        ? `${s} AS ${sqlIdent(`sum_${m.column}`)}`
        : `CASE WHEN z.n >= 1 THEN least(greatest(${s} / z.n, ${m.lower}), ${m.upper}) END AS ${sqlIdent(`mean_${m.column}`)}`,
    );
  }
  return {
    released,
    selectSql: `SELECT ${outputs.join(', ')} FROM ${CELLS} c JOIN ${NOISY} z USING (rid) ORDER BY rid`,
  };
}
