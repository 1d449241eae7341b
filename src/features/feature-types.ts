/**
 * The resolved shapes of a feature repository (issue 20): what the definitions parser
 * (`feature-definitions.ts`) produces from `features.yaml` or `defineFeatureView`, and what the
 * offline store, materialisation and online serving read. Paths here are absolute (resolved
 * against the repository directory).
 */

/** The value types a feature may have. */
export const FEATURE_VALUE_TYPES = [
  'int64',
  'int32',
  'float64',
  'float32',
  'bool',
  'string',
  'timestamp',
] as const;
export type FeatureValueType = (typeof FEATURE_VALUE_TYPES)[number];

/** An entity: what features describe (a user, an item), keyed by one column. */
export interface EntityDefinition {
  name: string;
  /** The column that holds the entity's key, in sources and entity dataframes. */
  joinKey: string;
  /** The key's type. */
  type: 'string' | 'int64';
  description?: string;
}

/** Where a view's rows come from: a Parquet/CSV file or a DuckDB query. */
export interface SourceDefinition {
  name: string;
  /** Absolute path of a CSV or Parquet file (glob allowed), or undefined with `query`. */
  path?: string;
  /** A DuckDB SELECT producing the rows, or undefined with `path`. */
  query?: string;
  /** The event-time column. */
  timestamp: string;
  /** The optional created-time column: among rows with equal event time, the latest created wins. */
  createdTimestamp?: string;
  description?: string;
}

/** One feature of a view. */
export interface FeatureDefinition {
  name: string;
  type: FeatureValueType;
  description?: string;
}

/** A feature view: features of one or more entities read from one source, valid for `ttlSeconds`. */
export interface FeatureViewDefinition {
  name: string;
  /** Entity names (their join keys key the view's rows). */
  entities: string[];
  source: string;
  /** How long a value stays valid after its event time; 0 = for ever. */
  ttlSeconds: number;
  features: FeatureDefinition[];
  owner?: string;
  description?: string;
  tags: Record<string, string>;
}

/** A named list of features a model uses, as `VIEW:FEATURE` references. */
export interface FeatureServiceDefinition {
  name: string;
  features: FeatureReference[];
  owner?: string;
  description?: string;
}

/** One feature of one view. Rendered `view:feature`; output columns are `view__feature`. */
export interface FeatureReference {
  view: string;
  feature: string;
}

/** A whole validated feature repository. */
export interface FeatureRepository {
  /** Absolute directory the repository's relative paths resolve against. */
  root: string;
  entities: Map<string, EntityDefinition>;
  sources: Map<string, SourceDefinition>;
  featureViews: Map<string, FeatureViewDefinition>;
  featureServices: Map<string, FeatureServiceDefinition>;
}
