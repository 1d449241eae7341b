/**
 * The DuckDB side of an export: the source as a view, its columns checked against the policy's
 * treatments, and the small helpers the release modes share (distinct values, lookup tables).
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DataError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { ColumnTreatment, ExportPolicy, TableSource } from './export-policy.js';

/** The view every query of an export reads. */
export const SOURCE_VIEW = 'export_source';

/** An open DuckDB with the policy's source as {@link SOURCE_VIEW}. Close it when done. */
export interface ExportTable {
  readonly con: DuckDBConnection;
  /** Source columns (name → DuckDB type), in order. */
  readonly columns: ReadonlyMap<string, string>;
  /** Each source column's treatment, in source order; `otherColumns: drop` filled in. */
  readonly treatments: ReadonlyMap<string, ColumnTreatment>;
  /** Rows in the source. */
  readonly rows: number;
  close(): void;
}

/** The table expression of a {@link TableSource}. */
export function tableSql(source: TableSource): string {
  if ('query' in source) return `(${source.query})`;
  const list = `[${source.files.map(sqlLiteral).join(', ')}]`;
  return source.format === 'parquet' ? `read_parquet(${list})` : `read_csv(${list}, header = true)`;
}

/** Where a policy's messages point: its file, else the policy's name. */
export function policyLocation(policy: ExportPolicy): { file: string } {
  return { file: policy.file ?? `policy ${policy.name}` };
}

/**
 * Opens an in-memory DuckDB over the policy's source and checks the columns: every treated column
 * must exist, and (records) every source column must be treated unless `otherColumns: drop`.
 * @throws DataError naming the policy file and the column.
 */
export async function openExportTable(policy: ExportPolicy): Promise<ExportTable> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance: DuckDBInstance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  const close = () => {
    con.closeSync();
    instance.closeSync();
  };
  try {
    const where = policyLocation(policy);
    try {
      await con.run(`CREATE VIEW ${SOURCE_VIEW} AS SELECT * FROM ${tableSql(policy.source)}`);
    } catch (cause) {
      throw new DataError(
        where,
        `source: cannot be read: ${(cause as Error).message.split('\n')[0]}`,
        { cause },
      );
    }
    const described = (await con.runAndReadAll(`DESCRIBE ${SOURCE_VIEW}`)).getRowsJS();
    const columns = new Map(described.map((r) => [String(r[0]), String(r[1])]));
    const have = [...columns.keys()].map((c) => `"${c}"`).join(', ');
    for (const name of policy.columns.keys())
      if (!columns.has(name))
        throw new DataError(
          { ...where, column: name },
          `columns.${name}: the source has no column "${name}"; it has ${have}`,
        );
    const treatments = new Map<string, ColumnTreatment>();
    for (const name of columns.keys()) {
      const t = policy.columns.get(name);
      if (t === undefined && policy.otherColumns === 'error' && policy.release.mode === 'records')
        throw new DataError(
          { ...where, column: name },
          `columns: the source column "${name}" has no treatment; give it one (drop, keep, pseudonymise, generalise) or set otherColumns: drop`,
        );
      treatments.set(name, t ?? { kind: 'drop' });
    }
    const rows = Number(
      (await con.runAndReadAll(`SELECT count(*) FROM ${SOURCE_VIEW}`)).getRowsJS()[0][0],
    );
    return { con, columns, treatments, rows, close };
  } catch (error) {
    close();
    throw error;
  }
}

/**
 * Distinct values of `expr` over the source as text (null kept), with their row counts, most
 * frequent first (ties by value).
 */
export async function distinctValues(
  con: DuckDBConnection,
  expr: string,
): Promise<{ values: (string | null)[]; counts: Float64Array }> {
  const rows = (
    await con.runAndReadAll(
      `SELECT CAST(${expr} AS VARCHAR) AS v, count(*) AS n FROM ${SOURCE_VIEW} GROUP BY 1 ORDER BY n DESC, v NULLS LAST`,
    )
  ).getRowsJS();
  const values = rows.map((r) => (r[0] === null ? null : String(r[0])));
  const counts = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) counts[i] = Number(rows[i][1]);
  return { values, counts };
}

/** Creates table `name` (all VARCHAR columns) holding `rows`, through an appender. */
export async function createTextTable(
  con: DuckDBConnection,
  name: string,
  columnNames: readonly string[],
  rows: Iterable<readonly (string | null)[]>,
): Promise<void> {
  await con.run(
    `CREATE OR REPLACE TABLE ${sqlIdent(name)} (${columnNames.map((c) => `${sqlIdent(c)} VARCHAR`).join(', ')})`,
  );
  const appender = await con.createAppender(name);
  for (const row of rows) {
    for (const v of row) {
      if (v === null) appender.appendNull();
      else appender.appendVarchar(v);
    }
    appender.endRow();
  }
  appender.flushSync();
  appender.closeSync();
}
