/**
 * Bandit contexts from the feature store (issue 20): a decision names a feature service and an
 * entity (`context: {featureService, entity: {user_id: "42"}}`), and the bandit service reads the
 * service's features for that entity from the online store at decide time, through the SDK
 * ({@link getOnlineFeatures}), turning them into the context vector:
 *
 * - the vector holds the service's features in the service's order;
 * - numbers as they are (an int64 beyond 2^53, served as its decimal text, as the nearest double);
 *   booleans as 1 (true) and 0 (false);
 * - a value that is `missing` (no row), `expired` (older than the view's TTL) or a stored null is
 *   filled with {@link FEATURE_CONTEXT_FILL} (0) and counted ({@link FetchedFeatureContext}), as is
 *   a value that is not a finite number (NaN);
 * - a service with a `string` or `timestamp` feature cannot be a bandit context: refused with an
 *   {@link InvalidArgumentError} when a bandit is defined with it, or a decision names it.
 *
 * The vector is logged with the decision exactly as the policy used it, so off-policy evaluation
 * over the decision log sees the same features.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { FeatureRepository, FeatureValueType } from '../features/feature-types.js';
import { type EntityKeys, getOnlineFeatures } from '../features/online-features.js';
import type { OnlineFeatureStore } from '../features/online-store.js';

/** The value a missing, expired or null feature takes in a bandit context. */
export const FEATURE_CONTEXT_FILL = 0;

/** Feature types a bandit context takes (booleans as 0/1). */
const NUMERIC_TYPES: ReadonlySet<FeatureValueType> = new Set([
  'int64',
  'int32',
  'float64',
  'float32',
  'bool',
]);

/** Where bandit contexts are read from: a feature repository and its online store. */
export interface BanditFeatureSource {
  repo: FeatureRepository;
  online: Pick<OnlineFeatureStore, 'read'>;
  /** The clock TTLs are measured against, epoch ms. @defaultValue `Date.now` */
  now?: () => number;
}

/** A decision's context named by feature service and entity. */
export interface FeatureContextRequest {
  /** The feature service; defaults to the bandit's own (`featureService` of its definition). */
  featureService?: string;
  /** The entity's join keys, e.g. `{user_id: "42"}`. */
  entity: EntityKeys;
}

/** A context read from the online store, and how much of it was filled. */
export interface FetchedFeatureContext {
  featureService: string;
  /** The context vector, in the service's feature order. */
  x: number[];
  /** Features with no value for the entity (filled with {@link FEATURE_CONTEXT_FILL}), nulls and NaNs included. */
  missing: number;
  /** Features whose value is older than its view's TTL (filled with {@link FEATURE_CONTEXT_FILL}). */
  expired: number;
}

/**
 * How many numbers the feature service gives as a bandit context (its feature count), after
 * checking that it exists and holds only numeric and boolean features.
 *
 * @throws InvalidArgumentError naming `field`: an unknown service, or a feature of type string
 *   or timestamp (named with its view).
 */
export function featureContextWidth(
  repo: FeatureRepository,
  featureService: string,
  field: string,
): number {
  const service = repo.featureServices.get(featureService);
  if (service === undefined) {
    const known = [...repo.featureServices.keys()].map((n) => `"${n}"`).join(', ');
    throw new InvalidArgumentError(
      field,
      `no feature service "${featureService}"; the repository has ${known || 'none'}`,
    );
  }
  for (const ref of service.features) {
    const type = repo.featureViews
      .get(ref.view)
      ?.features.find((f) => f.name === ref.feature)?.type;
    if (type === undefined)
      throw new InvalidArgumentError(
        field,
        `feature service "${featureService}" names "${ref.view}:${ref.feature}", which the repository does not define`,
      );
    if (!NUMERIC_TYPES.has(type))
      throw new InvalidArgumentError(
        field,
        `feature service "${featureService}" has "${ref.view}:${ref.feature}" of type ${type}; a bandit context takes only numeric and bool features`,
      );
  }
  return service.features.length;
}

/**
 * Reads the context vector of `request.entity` from the online store: the features of
 * `featureService` in its order, filled and counted as the module says, and checked to be `dim`
 * numbers.
 *
 * @throws InvalidArgumentError naming `context.featureService` (unknown, a non-numeric feature, or
 *   a width other than `dim`) or `context.entity.COLUMN` (a missing join key or one of the wrong type).
 */
export async function fetchFeatureContext(
  source: BanditFeatureSource,
  featureService: string,
  entity: EntityKeys,
  dim: number,
  bandit: string,
): Promise<FetchedFeatureContext> {
  const field = 'context.featureService';
  const width = featureContextWidth(source.repo, featureService, field);
  if (width !== dim)
    throw new InvalidArgumentError(
      field,
      `feature service "${featureService}" gives ${width} feature(s); bandit "${bandit}" takes ${dim} (its dim)`,
    );
  if (entity === null || typeof entity !== 'object' || Array.isArray(entity))
    throw new InvalidArgumentError(
      'context.entity',
      'must be an object of join key → value, e.g. {"user_id": "42"}',
    );
  let answer: Awaited<ReturnType<typeof getOnlineFeatures>>;
  try {
    answer = await getOnlineFeatures({
      repo: source.repo,
      online: source.online,
      featureService,
      entities: [entity],
      now: (source.now ?? Date.now)(),
      fields: { featureService: field, entities: 'context.entity' },
    });
  } catch (error) {
    // The SDK names entities by index (`context.entity[0].user_id`); a decision has one entity.
    if (error instanceof InvalidArgumentError && error.field.startsWith('context.entity[0]'))
      throw new InvalidArgumentError(
        `context.entity${error.field.slice('context.entity[0]'.length)}`,
        error.reason,
        { cause: error },
      );
    throw error;
  }
  const { values, statuses } = answer.results[0];
  const x = new Array<number>(width);
  let missing = 0;
  let expired = 0;
  for (let j = 0; j < width; j += 1) {
    const value = values[j];
    if (statuses[j] === 'expired') {
      expired += 1;
      x[j] = FEATURE_CONTEXT_FILL;
    } else if (statuses[j] === 'missing' || value === null) {
      missing += 1;
      x[j] = FEATURE_CONTEXT_FILL;
    } else if (typeof value === 'boolean') x[j] = value ? 1 : 0;
    else {
      const number = typeof value === 'number' ? value : Number(value);
      // A NaN or infinite value (or a string in a numeric view) cannot steer a linear policy.
      if (Number.isFinite(number)) x[j] = number;
      else {
        missing += 1;
        x[j] = FEATURE_CONTEXT_FILL;
      }
    }
  }
  return { featureService, x, missing, expired };
}
