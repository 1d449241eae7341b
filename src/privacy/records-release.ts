/**
 * The k-anonymous records mode of an export: the generalisation search over the source's
 * quasi-identifiers, the SQL that writes the released rows, and the check of a written file.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlIdent } from '../data/duckdb-sql.js';
import type { ColumnTreatment, RecordsRelease } from './export-policy.js';
import { type ExportTable, SOURCE_VIEW, createTextTable, distinctValues } from './export-table.js';
import { type Hierarchy, buildHierarchy, generaliseSql } from './generalisers.js';
import { type KAnonymitySolution, findKAnonymous } from './k-anonymity.js';

/** The search's outcome for one quasi-identifier. */
export interface QuasiIdentifierChoice {
  column: string;
  hierarchy: Hierarchy;
  /** The level chosen, and its name (`Hierarchy.names`). */
  level: number;
  levelName: string;
}

/** What a records release will do, as `kiban export plan` shows it. */
export interface RecordsPlan {
  mode: 'records';
  quasiIdentifiers: QuasiIdentifierChoice[];
  solution: KAnonymitySolution;
  /** The k-anonymity options as applied. */
  k: number;
  l?: number;
  sensitive?: string;
  maxSuppression: number;
}

/** Name of the table of suppressed classes the output query anti-joins. */
const SUPPRESSED_TABLE = 'export_suppressed';

/**
 * Builds each generalised column's hierarchy over its distinct values, the histogram of distinct
 * quasi-identifier tuples (split by the sensitive value with l-diversity), and searches for the
 * least-loss generalisation.
 * @throws DataError (from the search) when no generalisation keeps suppression under the bound.
 */
export async function planRecords(
  table: ExportTable,
  release: RecordsRelease,
): Promise<RecordsPlan> {
  const { con } = table;
  const qi = [...table.treatments].filter(([, t]) => t.kind === 'generalise') as [
    string,
    Extract<ColumnTreatment, { kind: 'generalise' }>,
  ][];
  const hierarchies: Hierarchy[] = [];
  const index: Map<string | null, number>[] = [];
  for (const [column, t] of qi) {
    const { values, counts } = await distinctValues(con, sqlIdent(column));
    const h = buildHierarchy(column, t.spec, values, counts);
    hierarchies.push(h);
    index.push(new Map(h.values.map((v, i) => [v, i])));
  }
  const sensitive = release.sensitive;
  const selects = qi.map(([c]) => `CAST(${sqlIdent(c)} AS VARCHAR)`);
  if (sensitive !== undefined) selects.push(`CAST(${sqlIdent(sensitive)} AS VARCHAR)`);
  const rows = (
    await con.runAndReadAll(
      `SELECT ${selects.join(', ')}, count(*) FROM ${SOURCE_VIEW} GROUP BY ALL`,
    )
  ).getRowsJS();
  const codes = qi.map(() => new Int32Array(rows.length));
  const counts = new Float64Array(rows.length);
  const sensitiveCodes = sensitive === undefined ? undefined : new Int32Array(rows.length);
  const sensitiveIndex = new Map<string, number>();
  for (let t = 0; t < rows.length; t++) {
    const row = rows[t];
    for (let c = 0; c < qi.length; c++) {
      const v = row[c] === null ? null : String(row[c]);
      codes[c][t] = index[c].get(v) as number;
    }
    if (sensitiveCodes !== undefined) {
      const s = row[qi.length];
      if (s === null) sensitiveCodes[t] = -1;
      else {
        const key = String(s);
        let code = sensitiveIndex.get(key);
        if (code === undefined) {
          code = sensitiveIndex.size;
          sensitiveIndex.set(key, code);
        }
        sensitiveCodes[t] = code;
      }
    }
    counts[t] = Number(row[row.length - 1]);
  }
  const solution = findKAnonymous(
    hierarchies,
    { codes, counts, ...(sensitiveCodes === undefined ? {} : { sensitive: sensitiveCodes }) },
    {
      k: release.k,
      maxSuppression: release.maxSuppression,
      ...(release.l === undefined ? {} : { l: release.l }),
      minLevel: qi.map(([, t]) => t.level ?? t.minLevel ?? 0),
      maxLevel: qi.map(([, t], c) => t.level ?? t.maxLevel ?? hierarchies[c].levels - 1),
    },
  );
  // The classes suppressed, by their labels at the chosen levels: the output query leaves them out.
  const suppressed = new Map<string, (string | null)[]>();
  for (let t = 0; t < rows.length; t++) {
    if (solution.suppressedTuples[t] !== 1) continue;
    const labels = hierarchies.map(
      (h, c) => h.labels[solution.levels[c]][h.groupOf[solution.levels[c]][codes[c][t]]],
    );
    suppressed.set(JSON.stringify(labels), labels);
  }
  await createTextTable(
    con,
    SUPPRESSED_TABLE,
    qi.map((_, c) => `q${c}`),
    suppressed.values(),
  );
  return {
    mode: 'records',
    quasiIdentifiers: qi.map(([column], c) => ({
      column,
      hierarchy: hierarchies[c],
      level: solution.levels[c],
      levelName: hierarchies[c].names[solution.levels[c]],
    })),
    solution,
    k: release.k,
    maxSuppression: release.maxSuppression,
    ...(release.l === undefined ? {} : { l: release.l, sensitive: release.sensitive as string }),
  };
}

/**
 * The query of the released rows: source columns in order, dropped ones left out, generalised
 * ones as their labels at the chosen levels, pseudonymised ones through `pseudonymTables`
 * (column → a table `(v, p)`), and the suppressed classes' rows left out.
 */
export function recordsSelectSql(
  table: ExportTable,
  plan: RecordsPlan,
  pseudonymTables: ReadonlyMap<string, string>,
): string {
  const generalised = plan.quasiIdentifiers.map(
    (q, c) => `${generaliseSql(q.hierarchy, q.level, `s.${sqlIdent(q.column)}`)} AS __q${c}`,
  );
  const qiIndex = new Map(plan.quasiIdentifiers.map((q, c) => [q.column, c]));
  const outputs: string[] = [];
  const joins: string[] = [];
  for (const [column, t] of table.treatments) {
    const id = sqlIdent(column);
    if (t.kind === 'drop') continue;
    if (t.kind === 'keep') outputs.push(`g.${id}`);
    else if (t.kind === 'generalise') outputs.push(`g.__q${qiIndex.get(column)} AS ${id}`);
    else {
      const alias = `p${joins.length}`;
      joins.push(
        `LEFT JOIN ${sqlIdent(pseudonymTables.get(column) as string)} ${alias} ON CAST(g.${id} AS VARCHAR) = ${alias}.v`,
      );
      outputs.push(`${alias}.p AS ${id}`);
    }
  }
  const matches = plan.quasiIdentifiers
    .map((_, c) => `x.q${c} IS NOT DISTINCT FROM g.__q${c}`)
    .join(' AND ');
  return `WITH g AS (SELECT s.*, ${generalised.join(', ')} FROM ${SOURCE_VIEW} s)
SELECT ${outputs.join(', ')} FROM g ${joins.join(' ')}
WHERE NOT EXISTS (SELECT 1 FROM ${SUPPRESSED_TABLE} x WHERE ${matches})`;
}

/** What {@link checkKAnonymousFile} found. */
export interface KAnonymityCheck {
  rows: number;
  classes: number;
  smallestClass: number;
  /** Classes below k, or holding sensitive values but fewer than l distinct ones. */
  violations: number;
}

/**
 * Re-reads a written file (a DuckDB table expression such as `read_parquet('…')`) and counts its
 * classes that break k-anonymity (or distinct l-diversity on `sensitive`, null rows exempt):
 * the check every produced file passes before it is published.
 */
export async function checkKAnonymousFile(
  con: DuckDBConnection,
  fileSql: string,
  columns: readonly string[],
  k: number,
  diversity?: { l: number; sensitive: string },
): Promise<KAnonymityCheck> {
  const keys = columns.map(sqlIdent).join(', ');
  const s = diversity === undefined ? null : sqlIdent(diversity.sensitive);
  const row = (
    await con.runAndReadAll(
      `WITH c AS (SELECT ${keys}, count(*) AS n${s === null ? '' : `, count(${s}) AS with_s, count(DISTINCT ${s}) AS distinct_s`} FROM ${fileSql} GROUP BY ALL)
       SELECT coalesce(sum(n), 0), count(*), coalesce(min(n), 0),
              count(*) FILTER (WHERE n < ${k}${s === null ? '' : ` OR (with_s > 0 AND distinct_s < ${diversity?.l})`})
       FROM c`,
    )
  ).getRowsJS()[0];
  return {
    rows: Number(row[0]),
    classes: Number(row[1]),
    smallestClass: Number(row[2]),
    violations: Number(row[3]),
  };
}
