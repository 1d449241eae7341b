import { InvalidArgumentError } from '../core/errors.js';
import { BUCKETS, type AttributeValue, type Experiment, type TargetingRule } from './experiment.js';
import { murmur3 } from '../core/murmur3.js';

/** A unit's variant in one experiment. */
export interface Assignment {
  experiment: string;
  variant: string;
  layer: string;
}

/**
 * What {@link assignUnit} needs of an experiment; `startAt`/`stopAt` may also be ISO-8601 strings,
 * as in the JSON of `GET /v1/experiments`.
 */
export type AssignableExperiment = Pick<
  Experiment,
  'name' | 'variants' | 'salt' | 'layer' | 'layerRange' | 'targeting' | 'status'
> & {
  startAt: Date | string | null;
  stopAt: Date | string | null;
};

/**
 * The unit's bucket in a layer: `murmur3("layer:" + layer + ":" + unit) mod 10000` (MurmurHash3
 * x86 32-bit, seed 0, over UTF-8). The experiment whose layer range holds it is the one the unit
 * may be in, so experiments of one layer never share a unit.
 */
export function layerBucket(layer: string, unit: string): number {
  return murmur3(`layer:${layer}:${unit}`) % BUCKETS;
}

/**
 * The unit's bucket for choosing a variant: `murmur3(salt + ":" + unit) mod 10000`. Independent of
 * {@link layerBucket} (another input), so the variant split is the same in every layer range.
 */
export function variantBucket(salt: string, unit: string): number {
  return murmur3(`${salt}:${unit}`) % BUCKETS;
}

/**
 * The variant of `unit`: variant j takes the variant buckets from round(10000·W_j/W) up to
 * round(10000·W_{j+1}/W), where W_j sums the weights before it — in the order listed, so adding a
 * variant at the end moves no unit of the others only when the shares stay put.
 */
export function variantOf(experiment: Pick<Experiment, 'variants' | 'salt'>, unit: string): string {
  const bucket = variantBucket(experiment.salt, unit);
  const total = experiment.variants.reduce((s, v) => s + v.weight, 0);
  let cumulative = 0;
  for (const v of experiment.variants) {
    cumulative += v.weight;
    if (bucket < Math.round((BUCKETS * cumulative) / total)) return v.name;
  }
  return experiment.variants[experiment.variants.length - 1].name;
}

/** Whether the unit's attributes satisfy every rule (see {@link TargetingRule} for each op). */
export function matchesTargeting(
  rules: readonly TargetingRule[],
  attributes: Readonly<Record<string, AttributeValue>>,
): boolean {
  for (const rule of rules) {
    const has = Object.hasOwn(attributes, rule.attribute);
    const value = has ? attributes[rule.attribute] : undefined;
    if (rule.op === 'exists') {
      if (!has) return false;
      continue;
    }
    if (!has) return false;
    switch (rule.op) {
      case 'eq':
        if (String(value) !== String(rule.value)) return false;
        break;
      case 'neq':
        if (String(value) === String(rule.value)) return false;
        break;
      case 'in':
      case 'nin': {
        const found = (rule.value as AttributeValue[]).some((v) => String(v) === String(value));
        if (found !== (rule.op === 'in')) return false;
        break;
      }
      default: {
        const x =
          typeof value === 'number'
            ? value
            : typeof value === 'string' && value.trim() !== ''
              ? Number(value)
              : Number.NaN;
        const t = rule.value as number;
        if (!Number.isFinite(x)) return false;
        if (
          (rule.op === 'gt' && !(x > t)) ||
          (rule.op === 'gte' && !(x >= t)) ||
          (rule.op === 'lt' && !(x < t)) ||
          (rule.op === 'lte' && !(x <= t))
        )
          return false;
      }
    }
  }
  return true;
}

/** Whether the experiment assigns units at `now`: running, and inside its start/stop window. */
export function isAssigning(
  experiment: Pick<AssignableExperiment, 'status' | 'startAt' | 'stopAt'>,
  now: Date,
): boolean {
  if (experiment.status !== 'running') return false;
  const t = now.getTime();
  if (experiment.startAt !== null && t < timeOf(experiment.startAt)) return false;
  return experiment.stopAt === null || t < timeOf(experiment.stopAt);
}

function timeOf(at: Date | string): number {
  return typeof at === 'string' ? Date.parse(at) : at.getTime();
}

/**
 * Every assigning experiment's variant for `unit`, by experiment name: the same answer the
 * server gives (`GET /v1/experiments/assignments`) from the same definitions, with no network.
 * A unit is in an experiment when the experiment is assigning, its targeting holds, and the
 * unit's layer bucket falls in the experiment's layer range.
 *
 * @example
 * const experiments = (await (await fetch(`${kiban}/v1/experiments?status=running`)).json()).experiments;
 * assignUnit(experiments, 'user-42', { country: 'JP' }); // [{ experiment: 'home-hero', variant: 'b', layer: 'home' }]
 */
export function assignUnit(
  experiments: readonly AssignableExperiment[],
  unit: string,
  attributes: Readonly<Record<string, AttributeValue>> = {},
  now: Date = new Date(),
): Assignment[] {
  if (typeof unit !== 'string' || unit.length === 0 || unit.length > 200)
    throw new InvalidArgumentError('unit', 'must be a string of 1 to 200 characters');
  const out: Assignment[] = [];
  const buckets = new Map<string, number>();
  for (const experiment of experiments) {
    if (!isAssigning(experiment, now)) continue;
    if (!matchesTargeting(experiment.targeting, attributes)) continue;
    let bucket = buckets.get(experiment.layer);
    if (bucket === undefined)
      buckets.set(experiment.layer, (bucket = layerBucket(experiment.layer, unit)));
    const [start, end] = experiment.layerRange;
    if (bucket < start || bucket >= end) continue;
    out.push({
      experiment: experiment.name,
      variant: variantOf(experiment, unit),
      layer: experiment.layer,
    });
  }
  return out.sort((a, b) =>
    a.experiment < b.experiment ? -1 : a.experiment > b.experiment ? 1 : 0,
  );
}
