import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, YAMLParseError } from 'yaml';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import {
  parsePipelineConfig,
  pipelineConfigSchema,
  type PipelineConfig,
} from '../pipeline-config.js';
import { parseTaskParams, STEP_SECTIONS } from '../task-params.js';
import { PIPELINE_STEP_KINDS, type PipelineStepKind } from './pipeline-step.js';

type Section = (typeof STEP_SECTIONS)[PipelineStepKind][number];

/** The package root, three levels up from this file in both src/pipeline/steps and dist/pipeline/steps. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEFAULT_EVENTS = pipelineConfigSchema.shape.data.unwrap().shape.events.parse(undefined);
const DEFAULT_MODEL_KIND = pipelineConfigSchema.shape.model.unwrap().shape.kind.parse(undefined);

function sectionKeys(section: Section): string[] {
  return Object.keys(pipelineConfigSchema.shape[section].unwrap().shape);
}

/**
 * Builds the pipeline configuration of one workflow task from its `params`:
 *
 * - `config`: a kiban.yaml (path relative to `baseDir`, the workflow file's directory) that gives
 *   the base; without it every field has its default, as for `kiban pipeline run`.
 * - The step's own section, key by key: aggregate → `config.aggregate` (`window`,
 *   `minUserItems`, …); train → `config.model` (`kind`, `params`, `values`); evaluate →
 *   `config.model` and `config.evaluate` (`holdout`, `k`, `minimum`); candidates →
 *   `config.candidates` (`users`, `related`, `popular`). Changing the model `kind` without
 *   `params` drops the base file's model params, which belong to the other kind.
 * - `events` → `config.data.events`; `stores` (a mapping) is merged over `config.stores`.
 *
 * Params are parsed with the step's schema in {@link TASK_PARAM_SCHEMAS} (the one `kiban workflow
 * validate` uses): text that reads as a number or a boolean (`"90"`, `"true"`, as workflow
 * substitution makes them) counts as one, except in `config`, `events` and `stores`.
 * Relative data and store paths, in the file or in `params`, resolve against the process's
 * working directory, as for `kiban pipeline run`; the default events are the bundled demo data
 * wherever kiban runs. An unknown key is an InvalidArgumentError naming `params.<key>`, and a
 * bad value one naming its key (`params.window.days: …`, or `config.…` for the base file).
 *
 * @example
 * await stepConfig('aggregate', { config: 'kiban.yaml', window: { days: '90' } }, '/etc/kiban/workflows');
 */
export async function stepConfig(
  kind: PipelineStepKind,
  params: Record<string, unknown>,
  baseDir: string,
): Promise<PipelineConfig> {
  if (!(PIPELINE_STEP_KINDS as readonly string[]).includes(kind)) {
    throw new InvalidArgumentError(
      'kind',
      `"${String(kind)}" is not a pipeline step; choose one of ${PIPELINE_STEP_KINDS.join(', ')}`,
    );
  }
  // Which section each task key overrides, so that an error in the result can be traced back to it.
  const owner = new Map<string, Section>();
  for (const section of STEP_SECTIONS[kind])
    for (const key of sectionKeys(section)) owner.set(key, section);
  // The schema `kiban workflow validate` checks too: unknown keys and bad values fail here, by name.
  params = parseTaskParams(kind, params);

  const input = params.config === undefined ? {} : await readBase(params.config, baseDir);
  const raw = input as Record<string, Record<string, unknown> | undefined>;
  for (const [key, value] of Object.entries(params)) {
    const section = owner.get(key);
    if (section === undefined) continue;
    const base = { ...raw[section] };
    if (
      section === 'model' &&
      key === 'kind' &&
      params.params === undefined &&
      (base.kind ?? DEFAULT_MODEL_KIND) !== value
    )
      delete base.params;
    raw[section] = { ...base, [key]: value };
  }
  if (params.events !== undefined) {
    if (typeof params.events !== 'string')
      throw new InvalidArgumentError('params.events', 'must be a path');
    raw.data = { ...raw.data, events: params.events };
  }
  if (params.stores !== undefined) {
    if (
      typeof params.stores !== 'object' ||
      params.stores === null ||
      Array.isArray(params.stores)
    ) {
      throw new InvalidArgumentError(
        'params.stores',
        'must be a mapping such as { serving: "sqlite:.kiban/serving.db" }',
      );
    }
    raw.stores = { ...raw.stores, ...(params.stores as Record<string, unknown>) };
  }

  let config: PipelineConfig;
  try {
    config = parsePipelineConfig(raw);
  } catch (error) {
    throw fromParams(error, params, owner);
  }
  if (raw.data?.events === undefined)
    config = { ...config, data: { ...config.data, events: bundled(DEFAULT_EVENTS) } };
  return config;
}

/** Reads the base configuration file, as `kiban pipeline run --config` does. */
async function readBase(path: unknown, baseDir: string): Promise<Record<string, unknown>> {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('params.config', 'must be the path of a kiban.yaml');
  const file = resolve(baseDir, path);
  const text = await readFile(file, 'utf8').catch((cause: unknown) => {
    throw new DataError({ file }, 'cannot read the configuration file (params.config)', { cause });
  });
  let input: unknown;
  try {
    input = parse(text) ?? {};
  } catch (cause) {
    const line = cause instanceof YAMLParseError ? cause.linePos?.[0].line : undefined;
    throw new DataError(
      { file, line },
      `not valid YAML: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    );
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new DataError({ file }, 'must be a mapping of configuration sections');
  return structuredClone(input as Record<string, unknown>);
}

/** Renames `config.<section>.<key>…` to `params.<key>…` when the task gave that key, so the message points at the workflow file. */
function fromParams(
  error: unknown,
  params: Record<string, unknown>,
  owner: Map<string, Section>,
): unknown {
  if (!(error instanceof InvalidArgumentError)) return error;
  const [, section, key, ...rest] = error.field.split('.');
  let field: string | undefined;
  if (key !== undefined && owner.get(key) === section && Object.hasOwn(params, key))
    field = ['params', key, ...rest].join('.');
  else if (section === 'data' && key === 'events' && params.events !== undefined)
    field = 'params.events';
  else if (
    section === 'stores' &&
    params.stores !== undefined &&
    key !== undefined &&
    Object.hasOwn(params.stores as object, key)
  )
    field = `params.stores.${key}`;
  if (field === undefined) return error;
  return new InvalidArgumentError(field, error.reason, { cause: error });
}

/** A file shipped with kiban, relative to the working directory when below it (reads well in logs). */
function bundled(path: string): string {
  const absolute = resolve(ROOT, path);
  const rel = relative(process.cwd(), absolute);
  return rel.startsWith('..') ? absolute : rel;
}
