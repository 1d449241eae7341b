/**
 * Export policies: what leaves kiban for another team, and how it is protected. A policy is a YAML
 * file naming the source, the recipient, a treatment for every column and a release mode
 * (k-anonymous records or differentially private aggregates); {@link readExportPolicy} validates
 * it and reports problems by file and line.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { DataError } from '../core/errors.js';
import type { GeneraliserSpec } from './generalisers.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const nameSchema = z
  .string()
  .regex(NAME, 'must be 1–64 of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
const positiveInts = z.array(z.number().int().positive()).min(1);

const generaliserSchema = z
  .object({
    band: z.array(z.number().positive()).min(1).optional(),
    origin: z.number().optional(),
    date: z
      .array(z.enum(['hour', 'day', 'week', 'month', 'quarter', 'year']))
      .min(1)
      .optional(),
    prefix: positiveInts.optional(),
    map: z.array(z.record(z.string(), z.string())).min(1).optional(),
    top: positiveInts.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    const kinds = (['band', 'date', 'prefix', 'map', 'top'] as const).filter(
      (k) => spec[k] !== undefined,
    );
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `give exactly one of band, date, prefix, map or top (got ${kinds.length === 0 ? 'none' : kinds.join(', ')})`,
      });
    if (spec.origin !== undefined && spec.band === undefined)
      ctx.addIssue({ code: 'custom', path: ['origin'], message: 'only goes with band' });
  });

const treatmentSchema = z.union([
  z.enum(['drop', 'keep', 'pseudonymise']),
  z
    .object({
      generalise: generaliserSchema,
      /** Aggregates: the level used. Records: fixes the level (instead of searching). */
      level: z.number().int().nonnegative().optional(),
      minLevel: z.number().int().nonnegative().optional(),
      maxLevel: z.number().int().nonnegative().optional(),
    })
    .strict(),
]);

const tableSourceSchema = z
  .object({
    files: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    format: z.enum(['csv', 'parquet']).optional(),
    query: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.files === undefined) === (s.query === undefined))
      ctx.addIssue({ code: 'custom', message: 'give either files or query' });
    if (s.format !== undefined && s.files === undefined)
      ctx.addIssue({ code: 'custom', path: ['format'], message: 'only goes with files' });
  });

const measureSchema = z.union([
  z.literal('count'),
  z
    .object({
      sum: z.string().min(1).optional(),
      mean: z.string().min(1).optional(),
      lower: z.number(),
      upper: z.number(),
      /** Values are rounded to multiples of this before summing; noise is in these units. */
      resolution: z.number().positive().default(1),
    })
    .strict()
    .superRefine((m, ctx) => {
      if ((m.sum === undefined) === (m.mean === undefined))
        ctx.addIssue({ code: 'custom', message: 'give either sum or mean' });
      if (!(m.lower < m.upper))
        ctx.addIssue({ code: 'custom', path: ['upper'], message: 'must be above lower' });
    }),
]);

const recordsSchema = z
  .object({
    mode: z.literal('records'),
    /** Every released class of quasi-identifiers has at least k rows. */
    k: z.number().int().min(2),
    /** Distinct l-diversity on `sensitive`. */
    l: z.number().int().min(2).optional(),
    /** A kept column whose distinct values each class must vary in (null rows exempt). */
    sensitive: z.string().min(1).optional(),
    /** Largest share of rows suppressed. */
    maxSuppression: z.number().min(0).max(1).default(0.05),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ((r.l === undefined) !== (r.sensitive === undefined))
      ctx.addIssue({ code: 'custom', path: ['l'], message: 'l and sensitive go together' });
  });

const thresholdSchema = z.union([
  z.number().int().nonnegative(),
  z.object({ delta: z.number().positive().max(1e-3) }).strict(),
]);

const aggregatesSchema = z
  .object({
    mode: z.literal('aggregates'),
    groupBy: z.array(z.string().min(1)).min(1),
    /** The columns that identify one person (or person-day): the unit protected. */
    privacyUnit: z.array(z.string().min(1)).min(1),
    maxGroupsPerUnit: z.number().int().positive(),
    maxRowsPerGroup: z.number().int().positive().default(1),
    measures: z.array(measureSchema).min(1).default(['count']),
    noise: z.enum(['discrete-laplace', 'discrete-gaussian']).optional(),
    epsilon: z.union([z.number().positive(), z.string().min(1)]).optional(),
    rho: z.union([z.number().positive(), z.string().min(1)]).optional(),
    keys: z
      .object({
        public: tableSourceSchema.optional(),
        threshold: thresholdSchema.optional(),
      })
      .strict(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if ((a.epsilon === undefined) === (a.rho === undefined))
      ctx.addIssue({ code: 'custom', message: 'give either epsilon (pure DP) or rho (zCDP)' });
    const noise = a.noise ?? (a.rho !== undefined ? 'discrete-gaussian' : 'discrete-laplace');
    if (noise === 'discrete-gaussian' && a.rho === undefined)
      ctx.addIssue({ code: 'custom', path: ['noise'], message: 'discrete-gaussian takes rho' });
    if (noise === 'discrete-laplace' && a.epsilon === undefined)
      ctx.addIssue({ code: 'custom', path: ['noise'], message: 'discrete-laplace takes epsilon' });
    if (a.keys.public === undefined && a.keys.threshold === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['keys'],
        message:
          'give keys.public (a list of group keys) or keys.threshold (release only groups whose noisy count reaches it)',
      });
    if (a.keys.public !== undefined && typeof a.keys.threshold === 'object')
      ctx.addIssue({
        code: 'custom',
        path: ['keys', 'threshold'],
        message: 'with public keys give the threshold as a count (it costs no δ)',
      });
  });

const policySchema = z
  .object({
    name: nameSchema.optional(),
    /** The data released, as the ledger names it. */
    dataset: nameSchema,
    /** The team or system it goes to, as the ledger names it. */
    recipient: nameSchema,
    source: tableSourceSchema,
    columns: z.record(z.string().min(1), treatmentSchema),
    /**
     * Columns of the source not under `columns`: an error (the default) or dropped. Aggregates
     * release only their group columns and measures, so there every other column is left out.
     */
    otherColumns: z.enum(['error', 'drop']).default('error'),
    release: z.discriminatedUnion('mode', [recordsSchema, aggregatesSchema]),
    output: z
      .object({
        format: z.enum(['parquet', 'csv']).default('parquet'),
        name: nameSchema.optional(),
      })
      .strict()
      .default({ format: 'parquet' }),
    pseudonyms: z
      .object({
        /** `env:NAME` or `file:PATH`: the recipient's HMAC key, never in the policy itself. */
        key: z.string().regex(/^(env|file):.+$/, 'must be env:NAME or file:PATH'),
      })
      .strict()
      .optional(),
    /** The cap on everything released of `dataset` to `recipient`. */
    budget: z
      .object({
        epsilon: z.number().positive().optional(),
        rho: z.number().positive().optional(),
        delta: z.number().min(0).max(1e-3).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const treated = new Map(Object.entries(p.columns));
    const need = (column: string, path: (string | number)[], what: string) => {
      if (!treated.has(column))
        ctx.addIssue({ code: 'custom', path, message: `${what} "${column}" is not under columns` });
      else if (treated.get(column) === 'drop')
        ctx.addIssue({ code: 'custom', path, message: `${what} "${column}" is dropped` });
    };
    const hasPseudonym = [...treated.values()].includes('pseudonymise');
    if (hasPseudonym && p.pseudonyms === undefined && p.release.mode === 'records')
      ctx.addIssue({
        code: 'custom',
        path: ['pseudonyms'],
        message: 'pseudonymised columns need pseudonyms.key (env:NAME or file:PATH)',
      });
    if (p.release.mode === 'records') {
      if (p.release.sensitive !== undefined) {
        need(p.release.sensitive, ['release', 'sensitive'], 'sensitive column');
        if (treated.get(p.release.sensitive) !== 'keep')
          ctx.addIssue({
            code: 'custom',
            path: ['release', 'sensitive'],
            message: 'the sensitive column must be kept as it is',
          });
      }
      if (![...treated.values()].some((t) => typeof t === 'object'))
        ctx.addIssue({
          code: 'custom',
          path: ['columns'],
          message: 'records mode needs at least one generalised column (the quasi-identifiers)',
        });
      return;
    }
    const a = p.release;
    a.groupBy.forEach((c, i) => {
      need(c, ['release', 'groupBy', i], 'group column');
      const t = treated.get(c);
      if (t === 'pseudonymise')
        ctx.addIssue({
          code: 'custom',
          path: ['release', 'groupBy', i],
          message: `group column "${c}" cannot be pseudonymised (its keys are released)`,
        });
    });
    if (p.budget === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['budget'],
        message: `aggregates need a budget (the cap on all releases of "${p.dataset}" to "${p.recipient}")`,
      });
    else if (a.rho !== undefined && p.budget.rho === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['budget', 'rho'],
        message: 'a zCDP release (rho) needs a rho budget',
      });
    else if (
      a.epsilon !== undefined &&
      p.budget.rho === undefined &&
      p.budget.epsilon === undefined
    )
      ctx.addIssue({
        code: 'custom',
        path: ['budget'],
        message: 'give budget.epsilon or budget.rho',
      });
  });

/** A table to read: files (CSV or Parquet, by `format` or extension) or a DuckDB query. */
export type TableSource = { files: string[]; format: 'csv' | 'parquet' } | { query: string };

/** What a column becomes: dropped, kept, pseudonymised, or generalised along a hierarchy. */
export type ColumnTreatment =
  | { kind: 'drop' }
  | { kind: 'keep' }
  | { kind: 'pseudonymise' }
  | {
      kind: 'generalise';
      spec: GeneraliserSpec;
      level?: number;
      minLevel?: number;
      maxLevel?: number;
    };

/** A measure of an aggregate release: the row count, or a bounded sum or mean of a column. */
export type Measure =
  | { kind: 'count' }
  | {
      kind: 'sum' | 'mean';
      column: string;
      lower: number;
      upper: number;
      resolution: number;
    };

/** k-anonymous records. */
export interface RecordsRelease {
  mode: 'records';
  k: number;
  l?: number;
  sensitive?: string;
  maxSuppression: number;
}

/** Differentially private aggregates. */
export interface AggregatesRelease {
  mode: 'aggregates';
  groupBy: string[];
  privacyUnit: string[];
  maxGroupsPerUnit: number;
  maxRowsPerGroup: number;
  measures: Measure[];
  noise: 'discrete-laplace' | 'discrete-gaussian';
  /** The release's whole budget as written (a decimal, kept exact), split evenly over its noisy quantities. */
  epsilon?: string;
  rho?: string;
  keys: { public?: TableSource; threshold?: number | { delta: number } };
}

/** A validated export policy, paths resolved. */
export interface ExportPolicy {
  /** The policy's name: `name`, else the file's name without extension. */
  name: string;
  dataset: string;
  recipient: string;
  source: TableSource;
  /** Treatment per source column, in the policy's order. */
  columns: ReadonlyMap<string, ColumnTreatment>;
  otherColumns: 'error' | 'drop';
  release: RecordsRelease | AggregatesRelease;
  output: { format: 'parquet' | 'csv'; name: string };
  /** Where the pseudonym key is read: `env:NAME` or `file:PATH` (resolved). */
  pseudonymKey?: string;
  budget?: { epsilon?: number; rho?: number; delta?: number };
  /** The file it was read from, if any. */
  file?: string;
}

/**
 * Reads and validates a policy file. Relative `files` and `file:` key paths resolve against
 * `baseDir` (default: the working directory).
 * @throws DataError naming the file and line of the first problem, e.g.
 *   `exports/p.yaml:7: release.k: Too small: expected number to be >=2`.
 */
export async function readExportPolicy(
  file: string,
  baseDir = process.cwd(),
): Promise<ExportPolicy> {
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new DataError({ file }, 'cannot read the export policy', { cause });
  });
  return parseExportPolicy(text, { file, baseDir });
}

/**
 * Validates a policy given as YAML text. See {@link readExportPolicy}.
 * @throws DataError naming the file (when given), the line and the key.
 */
export function parseExportPolicy(
  text: string,
  options: { file?: string; baseDir?: string } = {},
): ExportPolicy {
  const { file } = options;
  const baseDir = options.baseDir ?? process.cwd();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    throw new DataError(
      { ...(file === undefined ? {} : { file }), line: error.linePos?.[0].line },
      `not valid YAML: ${error.message.split('\n')[0]}`,
    );
  }
  const parsed = policySchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map(String);
    let line = 1;
    for (let n = path.length; n >= 0; n -= 1) {
      const node = doc.getIn(path.slice(0, n), true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node?.range !== undefined) {
        line = lines.linePos(node.range[0]).line;
        break;
      }
    }
    throw new DataError(
      { ...(file === undefined ? {} : { file }), line },
      `${path.length === 0 ? 'policy' : path.join('.')}: ${issue.message}`,
    );
  }
  const p = parsed.data;
  const at = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const table = (s: z.output<typeof tableSourceSchema>): TableSource => {
    if (s.query !== undefined) return { query: s.query };
    const files = (Array.isArray(s.files) ? s.files : [s.files as string]).map(at);
    const format = s.format ?? (extname(files[0]).toLowerCase() === '.parquet' ? 'parquet' : 'csv');
    return { files, format };
  };
  const columns = new Map<string, ColumnTreatment>();
  for (const [column, t] of Object.entries(p.columns))
    columns.set(
      column,
      typeof t === 'string'
        ? { kind: t }
        : {
            kind: 'generalise',
            spec: t.generalise as GeneraliserSpec,
            ...(t.level === undefined ? {} : { level: t.level }),
            ...(t.minLevel === undefined ? {} : { minLevel: t.minLevel }),
            ...(t.maxLevel === undefined ? {} : { maxLevel: t.maxLevel }),
          },
    );
  const r = p.release;
  const release: RecordsRelease | AggregatesRelease =
    r.mode === 'records'
      ? {
          mode: 'records',
          k: r.k,
          maxSuppression: r.maxSuppression,
          ...(r.l === undefined ? {} : { l: r.l, sensitive: r.sensitive as string }),
        }
      : {
          mode: 'aggregates',
          groupBy: r.groupBy,
          privacyUnit: r.privacyUnit,
          maxGroupsPerUnit: r.maxGroupsPerUnit,
          maxRowsPerGroup: r.maxRowsPerGroup,
          measures: r.measures.map((m) =>
            m === 'count'
              ? { kind: 'count' as const }
              : {
                  kind: m.sum !== undefined ? ('sum' as const) : ('mean' as const),
                  column: (m.sum ?? m.mean) as string,
                  lower: m.lower,
                  upper: m.upper,
                  resolution: m.resolution,
                },
          ),
          noise: r.noise ?? (r.rho !== undefined ? 'discrete-gaussian' : 'discrete-laplace'),
          ...(r.epsilon === undefined ? {} : { epsilon: String(r.epsilon) }),
          ...(r.rho === undefined ? {} : { rho: String(r.rho) }),
          keys: {
            ...(r.keys.public === undefined ? {} : { public: table(r.keys.public) }),
            ...(r.keys.threshold === undefined ? {} : { threshold: r.keys.threshold }),
          },
        };
  const name =
    p.name ?? (file === undefined ? 'export' : basename(file, extname(file)).toLowerCase());
  if (!NAME.test(name))
    throw new DataError(
      { ...(file === undefined ? {} : { file }), line: 1 },
      `name: the file name "${name}" is not a usable policy name; give name: (a-z, 0-9, ".", "_", "-")`,
    );
  const key = p.pseudonyms?.key;
  return {
    name,
    dataset: p.dataset,
    recipient: p.recipient,
    source: table(p.source),
    columns,
    otherColumns: p.otherColumns,
    release,
    output: { format: p.output.format, name: p.output.name ?? name },
    ...(key === undefined
      ? {}
      : { pseudonymKey: key.startsWith('file:') ? `file:${at(key.slice(5))}` : key }),
    ...(p.budget === undefined ? {} : { budget: p.budget }),
    ...(file === undefined ? {} : { file }),
  };
}
