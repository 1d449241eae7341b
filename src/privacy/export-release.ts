/**
 * Plans and runs an export policy: the release computed in DuckDB, checked, written as CSV or
 * Parquet with a sidecar of its privacy parameters through the artifact store, and accounted in
 * the privacy-budget ledger before any of it is stored.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { sqlIdent, sqlLiteral } from '../data/duckdb-sql.js';
import type { ArtifactStore } from '../storage/artifacts/artifact-store.js';
import { type AggregatesPlan, noisyCells, planAggregates } from './aggregates-release.js';
import type { ExportPolicy } from './export-policy.js';
import { type ExportTable, SOURCE_VIEW, createTextTable, openExportTable } from './export-table.js';
import type { PrivacyLedger, PrivacyTotals, ReleaseRecord } from './privacy-ledger.js';
import { Pseudonymiser, keyFingerprint, readPseudonymKey } from './pseudonyms.js';
import {
  type RecordsPlan,
  checkKAnonymousFile,
  planRecords,
  recordsSelectSql,
} from './records-release.js';

/** A column of the released file. */
export interface OutputColumn {
  name: string;
  /** The DuckDB type written. */
  type: string;
  /** Where it comes from: `keep`, `pseudonymise`, `generalise (level name)`, or `count`/`sum`/`mean`. */
  from: string;
}

/** What `kiban export plan` shows: the release computed without noise drawn or anything stored. */
export interface ExportPlan {
  policy: ExportPolicy;
  /** Columns of the released file, in order. */
  schema: OutputColumn[];
  /** Rows in the source. */
  sourceRows: number;
  detail: RecordsPlan | AggregatesPlan;
  /** The ledger's totals for the dataset × recipient before this release. */
  spent: PrivacyTotals;
}

/** Options of {@link planExport} and {@link runExport}. */
export interface ExportOptions {
  ledger: PrivacyLedger;
  /** Environment to read `env:` pseudonym keys from. @defaultValue process.env */
  env?: NodeJS.ProcessEnv;
  /** Progress lines for a console (never secrets). */
  log?: (line: string) => void;
}

/** Options of {@link runExport}. */
export interface ExportRunOptions extends ExportOptions {
  artifacts: ArtifactStore;
  /** Who runs it, for the ledger (an OS user, a principal, a workflow run). */
  actor: string;
  /**
   * The release's id: a retry with the same id spends nothing more and never draws noise twice
   * for a stored output. @defaultValue `<policy>-<UTC time>-<random>`
   */
  releaseId?: string;
  signal?: AbortSignal;
}

/** What {@link runExport} stored. */
export interface ExportResult {
  release: ReleaseRecord;
  /** Artifact keys of the data file and its sidecar. */
  dataKey: string;
  sidecarKey: string;
  /** Rows written. */
  rows: number;
  /** True when the release was already published under this id and nothing was done. */
  existing: boolean;
  totals: PrivacyTotals;
}

const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$/;

/** Computes what a run would release, without drawing noise or storing anything. */
export async function planExport(
  policy: ExportPolicy,
  options: ExportOptions,
): Promise<ExportPlan> {
  const table = await openExportTable(policy);
  try {
    return await plan(table, policy, options);
  } finally {
    table.close();
  }
}

async function plan(
  table: ExportTable,
  policy: ExportPolicy,
  options: ExportOptions,
): Promise<ExportPlan> {
  const detail =
    policy.release.mode === 'records'
      ? await planRecords(table, policy.release)
      : await planAggregates(table, policy.release);
  const spent = await options.ledger.totals(policy.dataset, policy.recipient);
  return {
    policy,
    schema: outputSchema(table, detail),
    sourceRows: table.rows,
    detail,
    spent,
  };
}

/** The columns of the released file, in order, with where each comes from. */
function outputSchema(table: ExportTable, detail: RecordsPlan | AggregatesPlan): OutputColumn[] {
  if (detail.mode === 'aggregates') {
    const columns: OutputColumn[] = detail.release.groupBy.map((c) => ({
      name: c,
      type: 'VARCHAR',
      from: 'group key',
    }));
    columns.push({
      name: 'count',
      type: 'BIGINT',
      from: `count + ${detail.quantities[0].mechanism.kind}`,
    });
    for (const m of detail.release.measures)
      if (m.kind !== 'count')
        columns.push({
          name: `${m.kind}_${m.column}`,
          type: 'DOUBLE',
          from: `${m.kind} of ${m.column} in [${m.lower}, ${m.upper}]`,
        });
    return columns;
  }
  const levels = new Map(detail.quasiIdentifiers.map((q) => [q.column, q.levelName]));
  const columns: OutputColumn[] = [];
  for (const [name, t] of table.treatments) {
    if (t.kind === 'drop') continue;
    columns.push({
      name,
      type: t.kind === 'keep' ? (table.columns.get(name) as string) : 'VARCHAR',
      from: t.kind === 'generalise' ? `generalise (${levels.get(name)})` : t.kind,
    });
  }
  return columns;
}

/**
 * Runs an export: plans it, reserves its spend in the ledger (refused when it would overspend),
 * writes the file to a temporary directory, checks it (k-anonymity of every class for records),
 * stores it and its `.privacy.json` sidecar under
 * `exports/<dataset>/<recipient>/<policy>/<releaseId>/`, and marks the release published.
 *
 * @example
 * const policy = await readExportPolicy('exports/clicks.yaml');
 * const done = await runExport(policy, { ledger: metadata.privacyLedger, artifacts, actor: 'alice' });
 * console.log(done.dataKey, done.totals.rhoEquivalent);
 */
export async function runExport(
  policy: ExportPolicy,
  options: ExportRunOptions,
): Promise<ExportResult> {
  const releaseId = options.releaseId ?? defaultReleaseId(policy.name);
  if (!RELEASE_ID.test(releaseId))
    throw new InvalidArgumentError(
      'releaseId',
      'must be 1–128 of letters, digits, ".", "_", "=" or "-", starting with a letter or digit',
    );
  const base = `exports/${policy.dataset}/${policy.recipient}/${policy.name}/${releaseId}`;
  const ext = policy.output.format === 'csv' ? 'csv' : 'parquet';
  const dataKey = `${base}/${policy.output.name}.${ext}`;
  const sidecarKey = `${base}/${policy.output.name}.privacy.json`;
  const log = options.log ?? (() => {});

  const previous = await options.ledger.get(releaseId);
  if (previous?.status === 'published')
    return {
      release: previous,
      dataKey,
      sidecarKey,
      rows: Number(previous.params.rows ?? 0),
      existing: true,
      totals: await options.ledger.totals(previous.dataset, previous.recipient),
    };

  // Read the key before anything is spent: a missing secret must not cost budget.
  const key =
    policy.pseudonymKey === undefined ||
    ![...policy.columns.values()].some((t) => t.kind === 'pseudonymise')
      ? null
      : await readPseudonymKey(policy.pseudonymKey, options.env);
  const table = await openExportTable(policy);
  const dir = await mkdtemp(join(tmpdir(), 'kiban-export-'));
  try {
    log(`read ${table.rows} rows from the source`);
    const planned = await plan(table, policy, options);
    // The sidecar goes to the recipient: only what the release's guarantee covers. Exact counts
    // about the source (rows, rows bounded away, candidate groups) stay in the ledger.
    const params = releaseParams(planned, key === null ? null : keyFingerprint(key));
    const internal =
      planned.detail.mode === 'aggregates'
        ? {
            sourceRows: planned.detail.rows,
            nullUnitRows: planned.detail.nullUnitRows,
            boundedAwayRows: planned.detail.boundedAwayRows,
            candidateCells: planned.detail.cells,
          }
        : {};
    const spend = planned.detail.mode === 'aggregates' ? planned.detail.spend : {};
    const reservation = await options.ledger.reserve(
      {
        id: releaseId,
        dataset: policy.dataset,
        recipient: policy.recipient,
        policy: policy.name,
        mechanism:
          planned.detail.mode === 'aggregates'
            ? planned.detail.quantities[0].mechanism.kind
            : 'k-anonymity',
        spend,
        params: { ...params, ...internal },
        actor: options.actor,
      },
      policy.budget ?? {},
    );
    options.signal?.throwIfAborted();
    // A retry of a release whose file was stored but not marked: the stored file stands, so no
    // second draw of noise is ever visible.
    const stored = reservation.existing ? await options.artifacts.stat(dataKey) : null;
    let rows: number;
    if (stored !== null) rows = Number(reservation.release.params.rows ?? Number.NaN);
    else {
      const file = join(dir, `out.${ext}`);
      rows = await writeRelease(table, planned, file, key);
      options.signal?.throwIfAborted();
      await options.artifacts.put(dataKey, await readFile(file), { signal: options.signal });
    }
    const sidecar = {
      kiban: 'export',
      release: releaseId,
      createdAt: reservation.release.createdAt.toISOString(),
      rows,
      ...params,
    };
    await options.artifacts.put(sidecarKey, `${JSON.stringify(sidecar, null, 2)}\n`, {
      signal: options.signal,
    });
    const release = await options.ledger.markPublished(releaseId, dataKey);
    log(`stored ${rows} rows as ${dataKey}`);
    return {
      release,
      dataKey,
      sidecarKey,
      rows,
      existing: false,
      totals: await options.ledger.totals(policy.dataset, policy.recipient),
    };
  } finally {
    table.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `<policy>-<yyyymmddThhmmssZ>-<6 hex>`. */
function defaultReleaseId(policy: string): string {
  const at = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${policy}-${at}-${randomBytes(3).toString('hex')}`;
}

/** Writes the release to `file` and checks it; resolves to the rows written. */
async function writeRelease(
  table: ExportTable,
  planned: ExportPlan,
  file: string,
  key: Buffer | null,
): Promise<number> {
  const { con } = table;
  const { policy, detail } = planned;
  const format = policy.output.format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet';
  const fileSql =
    policy.output.format === 'csv'
      ? `read_csv(${sqlLiteral(file)}, header = true, all_varchar = true)`
      : `read_parquet(${sqlLiteral(file)})`;
  if (detail.mode === 'aggregates') {
    const cells = await noisyCells(table, detail);
    await con.run(`COPY (${cells.selectSql}) TO ${sqlLiteral(file)} (${format})`);
    return cells.released;
  }
  const pseudonymTables = new Map<string, string>();
  const pseudonymised = [...table.treatments].filter(([, t]) => t.kind === 'pseudonymise');
  if (pseudonymised.length > 0) {
    if (key === null) throw new Error('writeRelease: pseudonymised columns without a key');
    const p = new Pseudonymiser(key, policy.recipient);
    for (const [column] of pseudonymised) {
      const name = `export_pseudonyms_${pseudonymTables.size}`;
      const values = (
        await con.runAndReadAll(
          `SELECT DISTINCT CAST(${sqlIdent(column)} AS VARCHAR) FROM ${SOURCE_VIEW} WHERE ${sqlIdent(column)} IS NOT NULL`,
        )
      ).getColumnsJS()[0] as string[];
      await createTextTable(
        con,
        name,
        ['v', 'p'],
        (function* () {
          for (const v of values) yield [v, p.pseudonym(v)];
        })(),
      );
      pseudonymTables.set(column, name);
    }
  }
  await con.run(
    `COPY (${recordsSelectSql(table, detail, pseudonymTables)}) TO ${sqlLiteral(file)} (${format})`,
  );
  const check = await checkKAnonymousFile(
    con,
    fileSql,
    detail.quasiIdentifiers.map((q) => q.column),
    detail.k,
    detail.l === undefined ? undefined : { l: detail.l, sensitive: detail.sensitive as string },
  );
  const expected = detail.solution.rows - detail.solution.suppressedRows;
  if (check.violations > 0 || check.rows !== expected)
    throw new Error(
      `export ${policy.name}: the written file fails its check (${check.violations} classes below k = ${detail.k}${detail.l === undefined ? '' : ` or l = ${detail.l}`}, ${check.rows} rows where ${expected} were expected); nothing was stored`,
    );
  return check.rows;
}

/** The release's parameters, as the ledger records them and the sidecar states them. */
function releaseParams(planned: ExportPlan, fingerprint: string | null): Record<string, unknown> {
  const { policy, detail } = planned;
  const columns = planned.schema.map((c) => ({ name: c.name, type: c.type, from: c.from }));
  const common = {
    policy: policy.name,
    dataset: policy.dataset,
    recipient: policy.recipient,
    format: policy.output.format,
    columns,
  };
  if (detail.mode === 'records') {
    const s = detail.solution;
    return {
      ...common,
      mode: 'records',
      guarantee: `${detail.k}-anonymity over ${detail.quasiIdentifiers.map((q) => q.column).join(', ')}${detail.l === undefined ? '' : ` with distinct ${detail.l}-diversity of ${detail.sensitive}`}; no differential privacy`,
      k: detail.k,
      ...(detail.l === undefined ? {} : { l: detail.l, sensitive: detail.sensitive }),
      maxSuppression: detail.maxSuppression,
      generalisation: Object.fromEntries(
        detail.quasiIdentifiers.map((q) => [q.column, q.levelName]),
      ),
      rows: s.rows - s.suppressedRows,
      suppressedRows: s.suppressedRows,
      classes: s.classes,
      smallestClass: s.smallestClass,
      loss: s.loss,
      ...pseudonymParams(planned, fingerprint),
    };
  }
  const r = detail.release;
  return {
    ...common,
    mode: 'aggregates',
    guarantee: `${r.rho === undefined ? `${r.epsilon}-DP` : `${r.rho}-zCDP`}${detail.delta > 0 ? ` with δ = ${detail.delta.toExponential(2)} from key selection` : ''}, per privacy unit (${r.privacyUnit.join(', ')})`,
    ...detail.spend,
    privacyUnit: r.privacyUnit,
    groupBy: r.groupBy,
    maxGroupsPerUnit: r.maxGroupsPerUnit,
    maxRowsPerGroup: r.maxRowsPerGroup,
    noise: detail.quantities.map((q) => ({
      quantity: q.name,
      mechanism: q.mechanism.kind,
      parameter: `${q.mechanism.parameter.num}/${q.mechanism.parameter.den}`,
      ...q.mechanism.spend,
      l1Sensitivity: q.l1,
      l2SensitivitySquared: q.l2Squared,
      standardDeviation: q.mechanism.standardDeviation,
      ...(q.measure === undefined
        ? {}
        : { lower: q.measure.lower, upper: q.measure.upper, resolution: q.measure.resolution }),
    })),
    keys: r.keys.public === undefined ? 'noisy threshold' : 'public list',
    threshold: detail.threshold,
    delta: detail.delta,
  };
}

function pseudonymParams(planned: ExportPlan, fingerprint: string | null): Record<string, unknown> {
  const columns = [...planned.policy.columns]
    .filter(([, t]) => t.kind === 'pseudonymise')
    .map(([c]) => c);
  return columns.length === 0
    ? {}
    : {
        pseudonyms: {
          columns,
          algorithm: 'HMAC-SHA-256(key, recipient ‖ 0x00 ‖ value), first 128 bits, base64url',
          keyFingerprint: fingerprint,
        },
      };
}
