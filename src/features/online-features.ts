/**
 * Online feature retrieval (issue 20): the latest values of a list of features (or a feature
 * service) for a list of entities, read from an {@link OnlineFeatureStore} with one `read` per
 * view for all entities, each value with a status:
 *
 * - `present`: the entity has a row of the view and it is within the view's TTL;
 * - `missing`: no row of the view for the entity (value `null`, the view's event time `null`), or
 *   its row was written before the view had the feature (value `null`);
 * - `expired`: the row is older than the view's TTL (value `null`, the view's event time the
 *   row's). The
 *   edge is the offline store's: a value lives in the half-open `[event, event + ttl)`, so at
 *   `now − eventTime ≥ ttl` exactly it has expired. A TTL of 0 never expires.
 *
 * A `present` value may itself be `null` (the row holds a null).
 *
 * The result is columnar: feature names once, then per entity two arrays in the names' order
 * (`values`, `statuses`) and the event time of each view read (`eventTimes`, by view name: all of
 * a view's values for an entity come from one stored row, so one time per view says it all and
 * keeps 250 copies of one number out of the answer). So 100 entities × 50 features are 100 small
 * objects, not 5,000, and the HTTP route serialises it as it is.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type {
  FeatureReference,
  FeatureRepository,
  FeatureViewDefinition,
} from './feature-types.js';
import {
  type EntityKey,
  entityKey,
  type FeatureValue,
  type OnlineFeatureStore,
  type StoredOnlineRow,
} from './online-store.js';

/** What is known of one value: see the module's statuses. */
export type FeatureStatus = 'present' | 'missing' | 'expired';

/** An entity as a caller names it: join key column → key value (other columns are ignored). */
export type EntityKeys = Readonly<Record<string, string | number>>;

/** Options of {@link getOnlineFeatures}. */
export interface GetOnlineFeaturesOptions {
  repo: FeatureRepository;
  online: Pick<OnlineFeatureStore, 'read'>;
  /** The features to read, in answer order; each at most once. Exactly one of this and `featureService`. */
  features?: readonly FeatureReference[];
  /** A feature service of the repository whose features are read, in its order. */
  featureService?: string;
  /** The entities, in answer order: each holds the join keys of every view read. */
  entities: readonly EntityKeys[];
  /** The time TTLs are measured from, epoch milliseconds. @defaultValue `Date.now()` */
  now?: number;
  /**
   * The field names errors use for `features`, `featureService` and `entities` (a route passes
   * `body.features`). @defaultValue `{features: 'features', featureService: 'featureService', entities: 'entities'}`
   */
  fields?: Partial<Record<'features' | 'featureService' | 'entities', string>>;
}

/** One entity's answer: two arrays in the order of {@link OnlineFeaturesResult.features}, and times by view. */
export interface OnlineEntityResult {
  /** The values; `null` unless `present` (a present value may be null too). */
  values: FeatureValue[];
  statuses: FeatureStatus[];
  /**
   * By view name (each view read, in first-mention order): the event time of the entity's row of
   * that view, epoch milliseconds, expired or not; `null` when the entity has none.
   */
  eventTimes: Record<string, number | null>;
}

/** What {@link getOnlineFeatures} answers. */
export interface OnlineFeaturesResult {
  /** The features, `view:feature`, in request (or service) order (shared between answers: frozen). */
  features: readonly string[];
  /** One per entity, in request order. */
  results: OnlineEntityResult[];
}

/** The features of one view that a request reads, and where they go in the answer. */
interface ViewRead {
  view: FeatureViewDefinition;
  /** The join key of each of the view's entities, in the view's entity order. */
  keys: { column: string; type: 'string' | 'int64' }[];
  /** Feature names of the view read, and their column in the answer. */
  names: string[];
  columns: number[];
}

interface Plan {
  features: readonly string[];
  views: ViewRead[];
}

/**
 * Plans by repository and request text, so a service or a feature list asked for again is not
 * resolved again (the hot path of the HTTP route). Bounded per repository.
 */
const PLANS = new WeakMap<FeatureRepository, Map<string, Plan>>();
const MAX_CACHED_PLANS = 256;
/** Plans by the identity of a `features` array a caller passes again (the route's parsed lists). */
const PLANS_BY_LIST = new WeakMap<
  readonly FeatureReference[],
  { repo: FeatureRepository; plan: Plan }
>();

/**
 * The latest values of `features` (or of `featureService`'s features) for each of `entities`,
 * with a status per value (see the module). One `online.read` per view, all entities at once,
 * views read concurrently.
 *
 * @throws InvalidArgumentError naming the field: neither or both of `features` and
 *   `featureService`, an unknown service, view or feature (`features[2]`), a feature listed twice,
 *   an entity lacking a join key a view needs (`entities[3].user_id`), or a key of the wrong type
 *   (a string key must be a string; an int64 key an integer or a string of decimal digits).
 * @example
 * ```ts
 * const { features, results } = await getOnlineFeatures({
 *   repo, online, featureService: 'user_activity', entities: [{ user_id: 1 }, { user_id: 2 }],
 * });
 * results[0].values[features.indexOf('user_stats:ratings_total')];
 * ```
 */
export async function getOnlineFeatures(
  options: GetOnlineFeaturesOptions,
): Promise<OnlineFeaturesResult> {
  const { repo, online, entities } = options;
  const now = options.now ?? Date.now();
  const plan = planFor(repo, options);
  const entitiesField = options.fields?.entities ?? 'entities';
  const width = plan.features.length;
  const results: OnlineEntityResult[] = new Array(entities.length);
  for (let e = 0; e < entities.length; e += 1)
    results[e] = {
      values: new Array<FeatureValue>(width).fill(null),
      statuses: new Array<FeatureStatus>(width).fill('missing'),
      eventTimes: noTimes(plan),
    };
  // Keys first, for every view, so that a bad entity is a 400 before anything is read.
  const keysByView = plan.views.map((read) => viewKeys(read, entities, entitiesField));
  const rowsByView = await Promise.all(
    plan.views.map((read, v) => online.read(read.view.name, keysByView[v])),
  );
  for (let v = 0; v < plan.views.length; v += 1) fill(plan.views[v], rowsByView[v], results, now);
  return { features: plan.features, results };
}

/** Parses `view:feature` (the HTTP form) into a {@link FeatureReference}. */
export function parseFeatureReference(text: string, field: string): FeatureReference {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1 || text.indexOf(':', colon + 1) >= 0)
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(text)} is not view:feature (write e.g. user_stats:clicks_7d)`,
    );
  return { view: text.slice(0, colon), feature: text.slice(colon + 1) };
}

function planFor(repo: FeatureRepository, options: GetOnlineFeaturesOptions): Plan {
  const { features, featureService } = options;
  const featuresField = options.fields?.features ?? 'features';
  const serviceField = options.fields?.featureService ?? 'featureService';
  if ((features === undefined) === (featureService === undefined))
    throw new InvalidArgumentError(
      features === undefined ? featuresField : serviceField,
      `give either ${featuresField} or ${serviceField}, not ${features === undefined ? 'neither' : 'both'}`,
    );
  if (features !== undefined) {
    const known = PLANS_BY_LIST.get(features);
    if (known !== undefined && known.repo === repo) return known.plan;
  }
  const cacheKey =
    featureService !== undefined
      ? `s\u001f${featureService}`
      : `f\u001f${(features ?? []).map((f) => `${f.view}:${f.feature}`).join('\u001f')}`;
  let cache = PLANS.get(repo);
  const cached = cache?.get(cacheKey);
  if (cached !== undefined) {
    if (features !== undefined) PLANS_BY_LIST.set(features, { repo, plan: cached });
    return cached;
  }
  let refs: readonly FeatureReference[];
  let field: (i: number) => string;
  if (featureService !== undefined) {
    const service = repo.featureServices.get(featureService);
    if (service === undefined)
      throw new InvalidArgumentError(
        serviceField,
        `no feature service "${featureService}"; the repository has ${quoted([...repo.featureServices.keys()])}`,
      );
    refs = service.features;
    field = () => `${serviceField} (${featureService})`;
  } else {
    refs = features ?? [];
    field = (i) => `${featuresField}[${i}]`;
  }
  const plan = resolvePlan(repo, refs, field, featuresField);
  if (cache === undefined) {
    cache = new Map();
    PLANS.set(repo, cache);
  }
  if (cache.size >= MAX_CACHED_PLANS) cache.clear();
  cache.set(cacheKey, plan);
  if (features !== undefined) PLANS_BY_LIST.set(features, { repo, plan });
  return plan;
}

function resolvePlan(
  repo: FeatureRepository,
  refs: readonly FeatureReference[],
  field: (i: number) => string,
  featuresField: string,
): Plan {
  if (refs.length === 0) throw new InvalidArgumentError(featuresField, 'names no feature');
  const views = new Map<string, ViewRead>();
  const names: string[] = [];
  const seen = new Set<string>();
  for (const [i, ref] of refs.entries()) {
    const view = repo.featureViews.get(ref.view);
    if (view === undefined)
      throw new InvalidArgumentError(
        field(i),
        `no feature view "${ref.view}"; the repository has ${quoted([...repo.featureViews.keys()])}`,
      );
    if (!view.features.some((f) => f.name === ref.feature))
      throw new InvalidArgumentError(
        field(i),
        `view "${ref.view}" has no feature "${ref.feature}"; it has ${quoted(view.features.map((f) => f.name))}`,
      );
    const name = `${ref.view}:${ref.feature}`;
    if (seen.has(name)) throw new InvalidArgumentError(field(i), `"${name}" is listed twice`);
    seen.add(name);
    let read = views.get(view.name);
    if (read === undefined) {
      read = { view, keys: joinKeys(repo, view), names: [], columns: [] };
      views.set(view.name, read);
    }
    read.names.push(ref.feature);
    read.columns.push(names.length);
    names.push(name);
  }
  return { features: Object.freeze(names), views: [...views.values()] };
}

/** The join keys of a view's entities, in its entity order. */
export function joinKeys(
  repo: FeatureRepository,
  view: FeatureViewDefinition,
): { column: string; type: 'string' | 'int64' }[] {
  return view.entities.map((name) => {
    const entity = repo.entities.get(name);
    // The definitions parser guarantees this; a hand-made repository might not.
    if (entity === undefined)
      throw new InvalidArgumentError(
        `featureViews.${view.name}.entities`,
        `no entity "${name}" in the repository`,
      );
    return { column: entity.joinKey, type: entity.type };
  });
}

const INT_TEXT = /^-?\d{1,19}$/;

/**
 * One join key value as the store keys it: a string key as it is; an int64 key as its canonical
 * decimal text (what materialisation writes for a bigint), from an integer or decimal text.
 *
 * @throws InvalidArgumentError naming `field` for a missing value or one of the wrong type.
 */
export function keyValue(value: unknown, type: 'string' | 'int64', field: string): string {
  if (type === 'string') {
    if (typeof value === 'string') return value;
    throw new InvalidArgumentError(
      field,
      value === undefined
        ? 'is missing'
        : `must be a string (the entity's key type), got ${JSON.stringify(value)}`,
    );
  }
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && INT_TEXT.test(value)) {
    const big = BigInt(value);
    if (big >= -(2n ** 63n) && big < 2n ** 63n) return big.toString();
  }
  throw new InvalidArgumentError(
    field,
    value === undefined
      ? 'is missing'
      : `must be an int64 (an integer, or its decimal digits as a string), got ${JSON.stringify(value)}`,
  );
}

function viewKeys(read: ViewRead, entities: readonly EntityKeys[], field: string): EntityKey[] {
  const keys: EntityKey[] = new Array(entities.length);
  if (read.keys.length === 1) {
    const { column, type } = read.keys[0];
    for (let e = 0; e < entities.length; e += 1) {
      const entity = entities[e];
      const value = entity[column];
      // Fast path: a string key given as a string needs no work.
      keys[e] =
        type === 'string' && typeof value === 'string'
          ? value
          : keyValue(value, type, `${field}[${e}].${column}`);
    }
    return keys;
  }
  for (let e = 0; e < entities.length; e += 1)
    keys[e] = entityKey(
      read.keys.map(({ column, type }) =>
        keyValue(entities[e][column], type, `${field}[${e}].${column}`),
      ),
    );
  return keys;
}

function fill(
  read: ViewRead,
  rows: readonly (StoredOnlineRow | null)[],
  results: OnlineEntityResult[],
  now: number,
): void {
  const ttlMs = read.view.ttlSeconds * 1000;
  // Where each read feature sits in a stored row: rows written with the same feature list
  // (nearly always every row) share the mapping.
  let lastFeatures: readonly string[] | null = null;
  let index: number[] = [];
  for (let e = 0; e < rows.length; e += 1) {
    const row = rows[e];
    if (row === null) continue;
    const out = results[e];
    if (ttlMs > 0 && now - row.eventTime >= ttlMs) {
      out.eventTimes[read.view.name] = row.eventTime;
      for (const c of read.columns) out.statuses[c] = 'expired';
      continue;
    }
    if (lastFeatures === null || !sameNames(lastFeatures, row.features)) {
      lastFeatures = row.features;
      const position = new Map(row.features.map((name, i) => [name, i]));
      index = read.names.map((name) => position.get(name) ?? -1);
    }
    out.eventTimes[read.view.name] = row.eventTime;
    for (let f = 0; f < index.length; f += 1) {
      const at = index[f];
      if (at < 0) continue;
      const c = read.columns[f];
      out.values[c] = row.values[at] ?? null;
      out.statuses[c] = 'present';
    }
  }
}

/** `{view: null, …}` for every view of the plan, in its order. */
function noTimes(plan: Plan): Record<string, number | null> {
  const times: Record<string, number | null> = {};
  for (const read of plan.views) times[read.view.name] = null;
  return times;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

function quoted(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((n) => `"${n}"`).join(', ');
}
