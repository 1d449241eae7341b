import { Command } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import { loadFeatureRepository } from '../features/feature-definitions.js';
import type { FeatureReference, FeatureRepository } from '../features/feature-types.js';
import { DuckDBOfflineFeatureStore } from '../features/offline-store.js';
import { parseInstant } from '../features/instant.js';

interface HistoricalFlags {
  repo: string;
  entities?: string;
  features?: string;
  featureService?: string;
  output: string;
  timestamp?: string;
  start?: string;
  end?: string;
  threads?: number;
  memoryLimit?: string;
}

/**
 * `VIEW:FEATURE[,…]` (and `VIEW:*` for all of a view's features) as references, checked against
 * the repository.
 *
 * @throws InvalidArgumentError naming `--features`.
 */
function parseFeatureList(text: string, repo: FeatureRepository): FeatureReference[] {
  const refs: FeatureReference[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const at = part.indexOf(':');
    if (at <= 0 || at === part.length - 1)
      throw new InvalidArgumentError(
        '--features',
        `"${part}" is not VIEW:FEATURE (e.g. user_stats:clicks_7d, or user_stats:* for all of a view)`,
      );
    const view = part.slice(0, at);
    const feature = part.slice(at + 1);
    const definition = repo.featureViews.get(view);
    if (feature === '*' && definition !== undefined)
      for (const f of definition.features) refs.push({ view, feature: f.name });
    else refs.push({ view, feature });
  }
  return refs;
}

/** @throws InvalidArgumentError naming `flag` unless `text` is a whole number ≥ 1. */
function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(flag, `must be a whole number of at least 1, got "${text}"`);
  return n;
}

/** The features the flags name: `--features`, or a feature service's. */
function requestedFeatures(flags: HistoricalFlags, repo: FeatureRepository): FeatureReference[] {
  if ((flags.features === undefined) === (flags.featureService === undefined))
    throw new InvalidArgumentError('--features', 'give either --features or --feature-service');
  if (flags.features !== undefined) return parseFeatureList(flags.features, repo);
  const service = repo.featureServices.get(flags.featureService!);
  if (service === undefined)
    throw new InvalidArgumentError(
      '--feature-service',
      `no feature service "${flags.featureService}"; the repository has ${[...repo.featureServices.keys()].map((s) => `"${s}"`).join(', ') || 'none'}`,
    );
  return service.features;
}

/** `kiban features historical`: point-in-time-correct feature values for an entity dataframe. */
export function featuresHistoricalCommand(): Command {
  return new Command('historical')
    .description(
      "Training data without leakage: for each row of an entity file (join keys + a timestamp), each feature's latest value " +
        "with event time at or before the row's timestamp and within the view's TTL (a value lives in [event, event + ttl)), " +
        'ties in event time broken by the latest created time. Writes the input rows in order, then one column per ' +
        'feature named VIEW__FEATURE (empty where no value qualifies). With --start/--end instead of --entities: every ' +
        "entity's latest values in [start, end), one row per key.",
    )
    .requiredOption('--repo <dir>', 'feature repository: a directory holding features.yaml')
    .option(
      '--entities <file>',
      'entity file, .csv or .parquet: the join keys and a timestamp column',
    )
    .option('--features <list>', 'comma-separated VIEW:FEATURE (VIEW:* for all of a view)')
    .option('--feature-service <name>', "a feature service's features, instead of --features")
    .requiredOption('--output <file>', 'file to write, .csv or .parquet (replaced atomically)')
    .option(
      '--timestamp <column>',
      "the entity file's timestamp column: ISO-8601 or epoch seconds (default: event_time)",
    )
    .option(
      '--start <time>',
      'without --entities: window start, inclusive (ISO-8601 or epoch seconds)',
    )
    .option('--end <time>', 'without --entities: window end, exclusive')
    .option('--threads <n>', 'DuckDB threads (default: the core count)', (v) =>
      positiveInteger('--threads', v),
    )
    .option(
      '--memory-limit <size>',
      "DuckDB's memory limit, e.g. 1GB: the join's peak memory (default: 80% of RAM)",
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiban features historical --repo examples/features --entities examples/features/entities.csv \\\n' +
        '    --features user_stats:ratings_total,user_stats:mean_rating_1d --output training.csv\n' +
        '  kiban features historical --repo examples/features --feature-service popularity \\\n' +
        '    --start 2018-01-01 --end 2018-07-01 --output latest.parquet\n',
    )
    .action(async (flags: HistoricalFlags) => {
      const windowed = flags.start !== undefined || flags.end !== undefined;
      if (flags.entities === undefined && !windowed)
        throw new InvalidArgumentError('--entities', 'give an entity file, or --start and --end');
      if (flags.entities !== undefined && windowed)
        throw new InvalidArgumentError(
          flags.start !== undefined ? '--start' : '--end',
          'takes no --entities: --start/--end read every entity in a window',
        );
      if (windowed && (flags.start === undefined || flags.end === undefined))
        throw new InvalidArgumentError(
          flags.start === undefined ? '--start' : '--end',
          'is needed with the other: the window is [start, end)',
        );
      if (flags.entities === undefined && flags.timestamp !== undefined)
        throw new InvalidArgumentError(
          '--timestamp',
          'names a column of --entities; there is none',
        );
      const repo = await loadFeatureRepository(flags.repo);
      const features = requestedFeatures(flags, repo);
      const store = new DuckDBOfflineFeatureStore({
        ...(flags.threads === undefined ? {} : { threads: flags.threads }),
        ...(flags.memoryLimit === undefined ? {} : { memoryLimit: flags.memoryLimit }),
      });
      try {
        const result =
          flags.entities !== undefined
            ? await store.historical({
                repo,
                entities: flags.entities,
                features,
                output: flags.output,
                ...(flags.timestamp === undefined ? {} : { timestampColumn: flags.timestamp }),
              })
            : await store.latest({
                repo,
                features,
                start: parseInstant('--start', flags.start!),
                end: parseInstant('--end', flags.end!),
                output: flags.output,
              });
        process.stdout.write(
          `wrote ${result.rows} rows × ${result.columns.length} columns to ${result.output}\n`,
        );
      } finally {
        await store.close();
      }
    });
}
