/**
 * Hyper-parameter search spaces: what `kiban tune` may try for a model, declared beside its
 * params in its {@link ModelDefinition}.
 */

/**
 * One hyper-parameter's range: whole numbers or reals in [low, high] (sampled on a log scale
 * when `log`, for scale-like parameters such as regularisation), or one of a list of values.
 */
export type SearchDimension =
  | { readonly kind: 'int'; readonly low: number; readonly high: number; readonly log?: boolean }
  | { readonly kind: 'float'; readonly low: number; readonly high: number; readonly log?: boolean }
  | { readonly kind: 'choice'; readonly values: readonly (string | number | boolean)[] };

/** A model's search space: param name (a field of its params schema) → range. */
export type SearchSpace = Readonly<Record<string, SearchDimension>>;
