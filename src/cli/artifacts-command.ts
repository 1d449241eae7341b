import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { pruneStoredArtifacts, type StoredArtifactsPrune } from '../app/prune-stored-artifacts.js';
import { InvalidArgumentError } from '../core/errors.js';
import { ARTIFACT_RETENTION_DEFAULTS } from '../storage/artifacts/prune-artifacts.js';
import { VECTOR_RETENTION_DEFAULTS } from '../vectors/prune-vector-indexes.js';
import { flagOverlay } from './config-flags.js';

interface PruneCliOptions {
  config?: string;
  keepRuns?: number;
  keepModels?: number;
  keepVectorVersions?: number;
  dryRun?: boolean;
}

/** `kiban artifacts`: look after the artifact store (`stores.artifacts`). */
export function artifactsCommand(): Command {
  return new Command('artifacts')
    .description(
      'Look after the artifact store (stores.artifacts): models, taggers, run files and vector indexes.',
    )
    .addCommand(pruneCommand());
}

function pruneCommand(): Command {
  const { runs, models } = ARTIFACT_RETENTION_DEFAULTS.keep;
  return new Command('prune')
    .description(
      'Delete the run folders (runs/ID) and model folders (models/ID) of the artifact store that nothing uses: ' +
        'all but the --keep-runs and --keep-models newest of each, except those of the published version, ' +
        'the published tagger and runs still running; and the versions of each vector index (vectors/NAME/VERSION) ' +
        'other than the current one and the --keep-vector-versions newest, with partial versions over an hour old. ' +
        'Prints what it deleted.',
    )
    .option('--config <file>', 'configuration naming the stores (default: the embedded ones)')
    .option('--artifacts <url>', 'artifact store, file:DIR or s3://BUCKET/PREFIX?endpoint=…')
    .option('--serving <url>', 'serving store holding the published version and tagger')
    .option('--metadata <url>', 'metadata store holding the workflow runs')
    .option(
      '--keep-runs <n>',
      `newest run folders kept whatever references them (default ${runs})`,
      (v) => count('--keep-runs', v),
    )
    .option(
      '--keep-models <n>',
      `newest model folders kept whatever references them (default ${models})`,
      (v) => count('--keep-models', v),
    )
    .option(
      '--keep-vector-versions <n>',
      `newest versions of each vector index kept besides the current one (default ${VECTOR_RETENTION_DEFAULTS.keep})`,
      (v) => count('--keep-vector-versions', v),
    )
    .option('--dry-run', 'delete nothing; print what would be deleted')
    .addHelpText(
      'after',
      '\nExample:\n  kiban artifacts prune --config kiban.yaml --keep-runs 10 --keep-models 3 --dry-run\n',
    )
    .action(async (options: PruneCliOptions, command: Command) => {
      const config = await loadKibanConfig({
        ...(options.config === undefined ? {} : { file: options.config }),
        flags: flagOverlay(command, {
          artifacts: ['stores.artifacts', '--artifacts'],
          serving: ['stores.serving', '--serving'],
          metadata: ['stores.metadata', '--metadata'],
        }),
      });
      const dryRun = options.dryRun === true;
      const result = await pruneStoredArtifacts(config, {
        keep: {
          ...(options.keepRuns === undefined ? {} : { runs: options.keepRuns }),
          ...(options.keepModels === undefined ? {} : { models: options.keepModels }),
        },
        ...(options.keepVectorVersions === undefined
          ? {}
          : { keepVectorVersions: options.keepVectorVersions }),
        dryRun,
      });
      process.stdout.write(pruneReport(result, dryRun));
    });
}

/**
 * The human report of a prune: a table of the groups deleted (or that would be) with their
 * object counts, then one summary line.
 */
export function pruneReport(result: StoredArtifactsPrune, dryRun: boolean): string {
  const objects = new Map<string, number>();
  const vectors = result.vectors ?? { kept: [], deleted: [], deletedKeys: [] };
  for (const key of result.deletedKeys) {
    const group = key.split('/').slice(0, 2).join('/');
    objects.set(group, (objects.get(group) ?? 0) + 1);
  }
  for (const key of vectors.deletedKeys) {
    const group = key.split('/').slice(0, 3).join('/');
    objects.set(group, (objects.get(group) ?? 0) + 1);
  }
  const groups = [...result.deleted, ...vectors.deleted];
  const objectCount = result.deletedKeys.length + vectors.deletedKeys.length;
  const lines: string[] = [];
  if (groups.length > 0) {
    const width = Math.max('group'.length, ...groups.map((g) => g.length));
    lines.push(`${'group'.padEnd(width)}  ${'objects'.padStart(7)}`);
    for (const group of groups)
      lines.push(`${group.padEnd(width)}  ${String(objects.get(group) ?? 0).padStart(7)}`);
  }
  const verb = dryRun ? 'would delete' : 'deleted';
  lines.push(
    `${verb} ${groups.length} group${groups.length === 1 ? '' : 's'} (${objectCount} object${objectCount === 1 ? '' : 's'}), kept ${result.kept.length + vectors.kept.length}` +
      `${dryRun ? ' (dry run: nothing was deleted)' : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

function count(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(flag, `must be a non-negative integer, got "${value}"`);
  return n;
}
