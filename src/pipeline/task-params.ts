import { z } from 'zod';
import { InvalidArgumentError } from '../core/errors.js';
import { DEFAULT_TAGGER_OPTIONS } from '../models/tags/tagger-options.js';
import { parseSinkSpec, parseSourceSpec } from '../stages/spec-strings.js';
import {
  paramProblems,
  parseParams,
  type TaskParamProblem,
} from '../workflow/task-handler-registry.js';
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
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, coerceText(v)]));
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
  .object(
    Object.fromEntries(
      Object.keys(pipelineConfigSchema.shape.stores.unwrap().shape).map((k) => [
        k,
        z.string().min(1).optional(),
      ]),
    ),
    {
      error: (issue) =>
        issue.code === 'invalid_type'
          ? 'must be a mapping such as { serving: "sqlite:.kiban/serving.db" }'
          : undefined,
    },
  )
  .strict();
const pathParam = z.string().min(1, 'must be a path');

function stepParamsSchema(kind: PipelineStepKind): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {
    config: optional(pathParam),
    events: optional(pathParam),
    stores: optional(storesParam),
  };
  for (const section of STEP_SECTIONS[kind]) {
    for (const [key, field] of Object.entries(pipelineConfigSchema.shape[section].unwrap().shape))
      shape[key] = optional(z.preprocess(coerceText, withoutDefault(field as z.ZodType)));
  }
  return z.object(shape).strict() as unknown as z.ZodType<Record<string, unknown>>;
}

const number = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  z.number('must be a number').refine(Number.isFinite, 'must be a finite number'),
);
const flag = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());
const wholeNumber = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
  z.int('must be a whole number ≥ 1').min(1, 'must be a whole number ≥ 1'),
);

/** Params of `kind: tags` tasks: the data, the publishing gate, the stores and every tagger option. */
export const tagsParamsSchema = z
  .object({
    input: z
      .string({
        error: 'a tags task needs input: a file of tagged texts (fastText format or JSON lines)',
      })
      .min(1),
    valid: optional(pathParam),
    k: optional(number),
    threshold: optional(number),
    minPrecision: optional(number),
    quantise: optional(flag),
    publish: optional(flag),
    config: optional(pathParam),
    stores: optional(storesParam),
    ...Object.fromEntries(
      Object.keys(DEFAULT_TAGGER_OPTIONS).map((k) => [
        k,
        optional(k === 'loss' ? z.enum(['softmax', 'ova']) : number),
      ]),
    ),
  })
  .strict();

const spec = (
  parse: (text: string, field: string) => unknown,
  field: string,
  missing = 'must be a spec string or object',
) =>
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
    source: spec(
      parseSourceSpec,
      'params.source',
      'a stage task needs a source, e.g. "parquet:data/events.parquet"',
    ),
    sink: optional(spec(parseSinkSpec, 'params.sink')),
    runner: optional(z.string().min(1)),
    count: optional(wholeNumber),
    numPreprocessors: optional(wholeNumber),
    batchSize: optional(wholeNumber),
    params: optional(z.record(z.string(), z.unknown())),
  })
  .strict();

/** The task kinds whose params this module defines: the pipeline steps, `tags` and `stage`. */
export type PipelineTaskKind = PipelineStepKind | 'tags' | 'stage';

/**
 * The params schema of each task kind kiban builds in beyond shell and module: what their task
 * handlers declare, so that `kiban workflow validate` (after putting the workflow's declared
 * parameters in) and the task when it runs parse params alike. Pipeline steps take `config`,
 * `events`, `stores` and the keys of their configuration sections.
 */
export const TASK_PARAM_SCHEMAS: Readonly<
  Record<PipelineTaskKind, z.ZodType<Record<string, unknown>>>
> = Object.freeze({
  aggregate: stepParamsSchema('aggregate'),
  train: stepParamsSchema('train'),
  evaluate: stepParamsSchema('evaluate'),
  candidates: stepParamsSchema('candidates'),
  publish: stepParamsSchema('publish'),
  tags: tagsParamsSchema as z.ZodType<Record<string, unknown>>,
  stage: stageParamsSchema as z.ZodType<Record<string, unknown>>,
});

/** Which params of a task name files, stores or stage specs; see {@link TASK_PARAM_ROLES}. */
export interface TaskParamRoles {
  paths: readonly string[];
  stores: readonly string[];
  specs: readonly string[];
  /**
   * Which of `paths` the task resolves against the workflow file's directory rather than the
   * working directory. @defaultValue `['config']`
   */
  fromWorkflowDir?: readonly string[];
}

/**
 * Which params of each kind name files (`paths`: resolved against the working directory,
 * `config` against the workflow file's directory), stores (`stores`: URLs and store
 * locations), or stage specs (`specs`: a file spec, or an SQL query or store URL). A run
 * parameter may feed a path only inside the data root, and never a store or a non-file spec.
 * A kind not listed has no such params.
 */
export const TASK_PARAM_ROLES: Readonly<Partial<Record<string, TaskParamRoles>>> = Object.freeze({
  aggregate: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  train: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  evaluate: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  candidates: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  publish: { paths: ['config', 'events'], stores: ['stores'], specs: [] },
  tags: { paths: ['input', 'valid', 'config'], stores: ['stores'], specs: [] },
  stage: { paths: [], stores: [], specs: ['source', 'sink'] },
  shell: { paths: [], stores: [], specs: [] },
  module: { paths: [], stores: [], specs: [] },
  // A policy names its own source query and key secret: like a store, it comes only from the workflow file.
  export: { paths: ['config'], stores: ['policy'], specs: [] },
  tune: { paths: ['train', 'config'], stores: [], specs: [], fromWorkflowDir: ['train', 'config'] },
  materialize: {
    paths: ['repo', 'config'],
    stores: ['online'],
    specs: [],
    fromWorkflowDir: ['repo', 'config'],
  },
});

export type { TaskParamProblem };

/** Every problem with `params` for a task of `kind`, by {@link TASK_PARAM_SCHEMAS}; empty when valid. */
export function taskParamProblems(
  kind: PipelineTaskKind,
  params: Record<string, unknown>,
): TaskParamProblem[] {
  return paramProblems({ kind, params: TASK_PARAM_SCHEMAS[kind] }, params);
}

/**
 * Parses a task's params as the task runs them (text turned back into numbers and booleans
 * where the schema wants them). Throws InvalidArgumentError naming `params.<key>` and the reason.
 */
export function parseTaskParams(
  kind: PipelineTaskKind,
  params: Record<string, unknown>,
): Record<string, unknown> {
  return parseParams({ kind, params: TASK_PARAM_SCHEMAS[kind] }, params);
}
