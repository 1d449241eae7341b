import { InvalidArgumentError } from '../core/errors.js';

/** Buckets a unit is hashed into, per layer and per experiment: shares are multiples of 0.01%. */
export const BUCKETS = 10_000;

/** Experiment, variant and layer names: letters, digits, `.`, `_`, `-`; 1 to 64 characters. */
export const EXPERIMENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The attribute values targeting compares (query parameters arrive as strings). */
export type AttributeValue = string | number | boolean;

/** One targeting condition on a unit attribute. Every condition of an experiment must hold. */
export interface TargetingRule {
  attribute: string;
  /**
   * `eq`/`neq` compare as strings (so `31` equals `"31"`), `in`/`nin` against a list,
   * `gt`/`gte`/`lt`/`lte` as numbers (a unit whose value is not a number does not match), and
   * `exists` holds when the unit has the attribute at all (`value` ignored).
   */
  op: 'eq' | 'neq' | 'in' | 'nin' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists';
  value?: AttributeValue | AttributeValue[];
}

/** One arm of an experiment and its share of the experiment's units (weights are normalised). */
export interface Variant {
  name: string;
  weight: number;
}

/** What a user defines (`PUT /v1/experiments/{name}`); everything but the variants is optional. */
export interface ExperimentDefinition {
  description?: string;
  /** At least two; the first is the control unless {@link ExperimentDefinition.control} names another. */
  variants: Variant[];
  /** @defaultValue the first variant */
  control?: string;
  /** Mixed into the variant hash; changing it reshuffles every unit. @defaultValue the experiment's name */
  salt?: string;
  /** Experiments in one layer never share a unit. @defaultValue the experiment's name (a layer of its own) */
  layer?: string;
  /** Share of the layer's units this experiment takes, in (0, 1]. @defaultValue 1 */
  traffic?: number;
  /** Conditions on unit attributes, all of which must hold. @defaultValue none */
  targeting?: TargetingRule[];
}

/** Draft: defined, assigns nobody. Running: assigns within its start/stop window. Stopped: assigns nobody, keeps its data. */
export type ExperimentStatus = 'draft' | 'running' | 'stopped';

/** An experiment as stored: its definition with defaults applied, its status and its place in its layer. */
export interface Experiment {
  name: string;
  description: string;
  variants: Variant[];
  control: string;
  salt: string;
  layer: string;
  traffic: number;
  targeting: TargetingRule[];
  status: ExperimentStatus;
  /** When it starts assigning (null: when started). */
  startAt: Date | null;
  /** When it stops assigning (null: until stopped). */
  stopAt: Date | null;
  /**
   * The experiment's buckets in its layer, `[start, end)` of {@link BUCKETS}: `end − start` is
   * `traffic` × BUCKETS. Experiments of one layer never overlap while running.
   */
  layerRange: [number, number];
  /** Incremented by every change (optimistic concurrency). */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const OPS: ReadonlySet<string> = new Set([
  'eq',
  'neq',
  'in',
  'nin',
  'gt',
  'gte',
  'lt',
  'lte',
  'exists',
]);
const DEFINITION_KEYS: ReadonlySet<string> = new Set([
  'description',
  'variants',
  'control',
  'salt',
  'layer',
  'traffic',
  'targeting',
]);

/** Refuses a malformed experiment, variant or layer name, naming `field`. */
export function checkName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !EXPERIMENT_NAME.test(value)) {
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(value)} is not a name: letters, digits, ".", "_" or "-", 1 to 64 characters`,
    );
  }
  return value;
}

/**
 * Checks a definition and applies its defaults. @throws InvalidArgumentError naming the field
 * (`variants[1].weight`, `targeting[0].op`, …) and the reason.
 */
export function normaliseDefinition(
  name: string,
  input: unknown,
): Omit<
  Experiment,
  'status' | 'startAt' | 'stopAt' | 'layerRange' | 'version' | 'createdAt' | 'updatedAt'
> {
  checkName(name, 'name');
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new InvalidArgumentError('definition', 'must be an object');
  const d = input as Record<string, unknown>;
  for (const key of Object.keys(d))
    if (!DEFINITION_KEYS.has(key))
      throw new InvalidArgumentError(
        key,
        `is not a field of an experiment (known: ${[...DEFINITION_KEYS].join(', ')})`,
      );
  if (!Array.isArray(d.variants) || d.variants.length < 2)
    throw new InvalidArgumentError('variants', 'must list at least two variants');
  if (d.variants.length > 100)
    throw new InvalidArgumentError('variants', `at most 100, got ${d.variants.length}`);
  const seen = new Set<string>();
  const variants = d.variants.map((v: unknown, j: number): Variant => {
    if (v === null || typeof v !== 'object')
      throw new InvalidArgumentError(`variants[${j}]`, 'must be an object {name, weight}');
    const { name: variantName, weight, ...rest } = v as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined)
      throw new InvalidArgumentError(
        `variants[${j}].${extra}`,
        'is not a field of a variant (name, weight)',
      );
    checkName(variantName, `variants[${j}].name`);
    if (seen.has(variantName as string))
      throw new InvalidArgumentError(
        `variants[${j}].name`,
        `"${String(variantName)}" appears twice`,
      );
    seen.add(variantName as string);
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
      throw new InvalidArgumentError(
        `variants[${j}].weight`,
        `must be a number > 0, got ${JSON.stringify(weight)}`,
      );
    return { name: variantName as string, weight };
  });
  const control = d.control === undefined ? variants[0].name : checkName(d.control, 'control');
  if (!seen.has(control))
    throw new InvalidArgumentError(
      'control',
      `"${control}" is not one of the variants (${variants.map((v) => v.name).join(', ')})`,
    );
  const salt = d.salt === undefined ? name : d.salt;
  if (typeof salt !== 'string' || salt.length === 0 || salt.length > 200)
    throw new InvalidArgumentError('salt', 'must be a string of 1 to 200 characters');
  const layer = d.layer === undefined ? name : checkName(d.layer, 'layer');
  const traffic = d.traffic === undefined ? 1 : d.traffic;
  if (
    typeof traffic !== 'number' ||
    !(traffic > 0 && traffic <= 1) ||
    Math.round(traffic * BUCKETS) < 1
  ) {
    throw new InvalidArgumentError(
      'traffic',
      `must be a share in (0, 1] of at least ${1 / BUCKETS}, got ${JSON.stringify(traffic)}`,
    );
  }
  const description = d.description === undefined ? '' : d.description;
  if (typeof description !== 'string' || description.length > 2000)
    throw new InvalidArgumentError('description', 'must be a string of at most 2,000 characters');
  const targeting = d.targeting === undefined ? [] : d.targeting;
  if (!Array.isArray(targeting))
    throw new InvalidArgumentError('targeting', 'must be a list of {attribute, op, value}');
  return {
    name,
    description,
    variants,
    control,
    salt,
    layer,
    traffic,
    targeting: targeting.map(checkRule),
  };
}

function checkRule(rule: unknown, j: number): TargetingRule {
  const field = `targeting[${j}]`;
  if (rule === null || typeof rule !== 'object')
    throw new InvalidArgumentError(field, 'must be an object {attribute, op, value}');
  const { attribute, op, value, ...rest } = rule as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined)
    throw new InvalidArgumentError(
      `${field}.${extra}`,
      'is not a field of a targeting rule (attribute, op, value)',
    );
  if (typeof attribute !== 'string' || attribute.length === 0 || attribute.length > 100)
    throw new InvalidArgumentError(`${field}.attribute`, 'must be a name of 1 to 100 characters');
  if (typeof op !== 'string' || !OPS.has(op))
    throw new InvalidArgumentError(
      `${field}.op`,
      `must be one of ${[...OPS].join(', ')}, got ${JSON.stringify(op)}`,
    );
  const scalar = (v: unknown): v is AttributeValue =>
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v));
  if (op === 'in' || op === 'nin') {
    if (!Array.isArray(value) || value.length === 0 || !value.every(scalar))
      throw new InvalidArgumentError(
        `${field}.value`,
        `must be a non-empty list of strings, numbers or booleans for "${op}"`,
      );
  } else if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new InvalidArgumentError(`${field}.value`, `must be a number for "${op}"`);
  } else if (op !== 'exists' && !scalar(value)) {
    throw new InvalidArgumentError(
      `${field}.value`,
      `must be a string, number or boolean for "${op}"`,
    );
  }
  return op === 'exists'
    ? { attribute, op }
    : { attribute, op: op as TargetingRule['op'], value: value as TargetingRule['value'] };
}

/** Whether two variant lists give every unit the same variant (same names, order and shares). */
export function sameSplit(a: readonly Variant[], b: readonly Variant[]): boolean {
  if (a.length !== b.length) return false;
  const ta = a.reduce((s, v) => s + v.weight, 0);
  const tb = b.reduce((s, v) => s + v.weight, 0);
  return a.every(
    (v, j) => v.name === b[j].name && Math.abs(v.weight / ta - b[j].weight / tb) < 1e-12,
  );
}
