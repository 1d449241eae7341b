import { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import { DEFAULT_TAGGER_OPTIONS } from '../models/tags/tagger-options.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import type { TaskKind } from '../workflow/workflow-definition.js';
import { pipelineConfigSchema } from './pipeline-config.js';
import type { PipelineStepKind } from './steps/pipeline-step.js';

type Section = 'aggregate' | 'model' | 'evaluate' | 'candidates';

/** The configuration sections each pipeline step's task params override, key by key. */
export const STEP_SECTIONS: Readonly<Record<PipelineStepKind, readonly Section[]>> = Object.freeze({
  aggregate: ['aggregate'],
  train: ['model'],
  evaluate: ['model', 'evaluate'],
  candidates: ['candidates'],
  publish: [],
});

/**
 * Numbers and booleans that workflow substitution turned into text (`"90"`, `"true"`), back as
 * they were, through arrays and mappings.
 */
export function coerceText(value: unknown): unknown {
  if (typeof value === 'string') {
    const t = value.trim();
    if (t === 'true' || t === 'false') return t === 'true';
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
    return value;
  }
  if (Array.isArray(value)) return value.map(coerceText);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, coerceText(v)]));
  return value;
}

/** A schema without its `.default()`: a task param that is absent must not override the base file. */
function withoutDefault(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault) s = s.unwrap() as z.ZodType;
  return s;
}

function optional<T extends z.ZodType>(schema: T): z.ZodOptional<T> {
  return schema.optional();
}

/** `stores` in task params: some of the configuration's store locations, nothing filled in. */
const storesParam = z
  .object(Object.fromEntries(Object.keys(pipelineConfigSchema.shape.stores.unwrap().shape).map((k) => [k, z.string().min(1).optional()])), {
    error: (issue) => (issue.code === 'invalid_type' ? 'must be a mapping such as { serving: "sqlite:.kiban/serving.db" }' : undefined),
  })
  .strict();
const pathParam = z.string().min(1, 'must be a path');

function stepParamsSchema(kind: PipelineStepKind): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = { config: optional(pathParam), events: optional(pathParam), stores: optional(storesParam) };
  for (const section of STEP_SECTIONS[kind]) {
    for (const [key, field] of Object.entries(pipelineConfigSchema.shape[section].unwrap().shape)) shape[key] = optional(z.preprocess(coerceText, withoutDefault(field as z.ZodType)));
  }
  return z.object(shape).strict() as unknown as z.ZodType<Record<string, unknown>>;
}

const number = z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.number('must be a number').refine(Number.isFinite, 'must be a finite number'));
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const wholeNumber = z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.int('must be a whole number ≥ 1').min(1, 'must be a whole number ≥ 1'));

/** Params of `kind: tags` tasks: the data, the publishing gate, the stores and every tagger option. */
export const tagsParamsSchema = z
  .object({
    input: z.string({ error: 'a tags task needs input: a file of tagged texts (fastText format or JSON lines)' }).min(1),
    valid: optional(pathParam),
    k: optional(number),
    threshold: optional(number),
    minPrecision: optional(number),
    quantise: optional(flag),
    publish: optional(flag),
    config: optional(pathParam),
    stores: optional(storesParam),
    ...Object.fromEntries(Object.keys(DEFAULT_TAGGER_OPTIONS).map((k) => [k, optional(k === 'loss' ? z.enum(['softmax', 'ova']) : number)])),
  })
  .strict();

const spec = (parse: (text: string, field: string) => unknown, field: string, missing = 'must be a spec string or object') =>
  z.union(
    [
    z.string().superRefine((text, ctx) => {
      try {
        parse(text, field);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.reason });
      }
    }),
    z.record(z.string(), z.unknown()),
    ],
    { error: (issue) => (issue.input === undefined ? missing : undefined) },
  );

/** Params of `kind: stage` tasks: source and sink specs, the runner and its sizes, the stage's own params. */
export const stageParamsSchema = z
  .object({
    source: spec(parseSourceSpec, 'params.source', 'a stage task needs a source, e.g. "parquet:data/events.parquet"'),
    sink: optional(spec(parseSinkSpec, 'params.sink')),
    runner: optional(z.string().min(1)),
    count: optional(wholeNumber),
    numPreprocessors: optional(wholeNumber),
    batchSize: optional(wholeNumber),
    params: optional(z.record(z.string(), z.unknown())),
  })
  .strict();

/**
 * The params schema of each task kind: what `kiban workflow validate` checks (after putting the
 * workflow's declared parameters in) and what the task parses its params with when it runs,
 * so that both say the same. Pipeline steps take `config`, `events`, `stores` and the keys of
 * their configuration sections; shell tasks take none (parameters reach the command as
 * environment variables); module tasks take anything (their export reads `ctx.params`).
 */
export const TASK_PARAM_SCHEMAS: Readonly<Record<TaskKind, z.ZodType<Record<string, unknown>>>> = Object.freeze({
  aggregate: stepParamsSchema('aggregate'),
  train: stepParamsSchema('train'),
  evaluate: stepParamsSchema('evaluate'),
  candidates: stepParamsSchema('candidates'),
  publish: stepParamsSchema('publish'),
  tags: tagsParamsSchema as z.ZodType<Record<string, unknown>>,
  stage: stageParamsSchema as z.ZodType<Record<string, unknown>>,
  shell: z.object({}).strict(),
  module: z.record(z.string(), z.unknown()),
});

/**
 * Which params of each kind name files (`paths`: resolved against the working directory,
 * `config` against the workflow file's directory), stores (`stores`: URLs and store
 * locations), or stage specs (`specs`: a file spec, or an SQL query or store URL). A run
 * parameter may feed a path only inside the data root, and never a store or a non-file spec.
 */
export const TASK_PARAM_ROLES: Readonly<Record<TaskKind, { paths: readonly string[]; stores: readonly string[]; specs: readonly string[] }>> = Object.freeze({
  aggregate: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  train: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  evaluate: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  candidates: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  publish: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  tags: { paths: ['input', 'valid', 'config'], stores: ['stores'], specs: [] },
  stage: { paths: [], stores: [], specs: ['source', 'sink'] },
  shell: { paths: [], stores: [], specs: [] },
  module: { paths: [], stores: [], specs: [] },
});

/** One thing wrong with a task's params: the dotted path below `params` and the reason. */
export interface TaskParamProblem {
  path: string;
  message: string;
}

/** Every problem with `params` for a task of `kind`, by {@link TASK_PARAM_SCHEMAS}; empty when valid. */
export function taskParamProblems(kind: TaskKind, params: Record<string, unknown>): TaskParamProblem[] {
  const schema = TASK_PARAM_SCHEMAS[kind];
  const result = schema.safeParse(params);
  if (result.success) return [];
  const problems: TaskParamProblem[] = [];
  // Unknown keys first: a misspelt key (`sorce`) also reads as a missing one (`source`).
  const issues = [...result.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...path, key].join('.'), message: path.length === 0 ? unknownKeyMessage(kind, schema) : 'unknown key' });
    } else problems.push({ path: path.join('.'), message: issue.message });
  }
  return problems;
}

/**
 * Parses a task's params as the task runs them (text turned back into numbers and booleans
 * where the schema wants them). Throws InvalidArgumentError naming `params.<key>` and the reason.
 */
export function parseTaskParams(kind: TaskKind, params: Record<string, unknown>): Record<string, unknown> {
  const result = TASK_PARAM_SCHEMAS[kind].safeParse(params);
  if (result.success) return result.data;
  const [first] = taskParamProblems(kind, params);
  throw new InvalidArgumentError(first.path === '' ? 'params' : `params.${first.path}`, first.message);
}

function unknownKeyMessage(kind: TaskKind, schema: z.ZodType): string {
  if (kind === 'shell') return 'shell tasks take no params: parameters reach the command as KIBAN_PARAM_<NAME> environment variables';
  const known = schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
  return `not a parameter of ${kind} tasks; known: ${known.join(', ')}`;
}
