import { Command } from 'commander';
import { loadKibanConfig } from '../app/config.js';
import { type Progress, startProgress } from '../core/progress.js';
import { parseInstant } from '../features/instant.js';
import { materializeRepository } from '../app/materialize-repository.js';
import { configuredOnlineStoreUrl } from '../app/open-online-store.js';
import { parseDuration } from '../workflow/duration.js';
import { InvalidArgumentError } from '../core/errors.js';

interface MaterializeFlags {
  repo: string;
  start: string;
  end: string;
  views?: string;
  online?: string;
  config?: string;
  step: string;
  chunkRows: string;
  force?: boolean;
  json?: boolean;
}

/** `kiban features materialize`: copies the latest offline values of a window to the online store. */
export function featuresMaterializeCommand(): Command {
  return new Command('materialize')
    .description(
      "Copies each feature view's latest values in [start, end) to the online store, one event-time window " +
        '(--step) at a time, oldest first. Idempotent (the store keeps the newest row per entity) and resumable: ' +
        "after each window the view's mark records how far it got, and a rerun starts there (--force: from --start).",
    )
    .requiredOption('--repo <dir>', 'feature repository: a directory holding features.yaml')
    .requiredOption('--start <time>', 'window start, inclusive (ISO-8601 or epoch seconds)')
    .requiredOption('--end <time>', 'window end, exclusive')
    .option('--views <list>', 'comma-separated views (default: every view)')
    .option(
      '--online <url>',
      "online store: memory:, sqlite:PATH or redis://HOST:PORT[?prefix=P] (default: the configuration's features.online, else the one beside stores.serving, e.g. sqlite:.kiban/features.db)",
    )
    .option(
      '--config <file>',
      'kiban.yaml whose features.online (or stores.serving) names the default online store',
    )
    .option('--step <duration>', 'length of one window (e.g. 1d, 6h)', '1d')
    .option('--chunk-rows <n>', 'rows per online write', '10000')
    .option('--force', "write every window again, ignoring the views' marks")
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  kiban features materialize --repo examples/features --start 1996-01-01 --end 2019-01-01 --step 365d\n' +
        '  kiban features materialize --repo examples/features --start 2018-09-01 --end 2018-10-01 \\\n' +
        '    --views user_stats --online redis://127.0.0.1:6379\n',
    )
    .action(async (flags: MaterializeFlags) => {
      const start = parseInstant('--start', flags.start);
      const end = parseInstant('--end', flags.end);
      const stepMs = parseDuration(flags.step, '--step');
      const chunkRows = Number(flags.chunkRows);
      if (!Number.isSafeInteger(chunkRows) || chunkRows < 1)
        throw new InvalidArgumentError(
          '--chunk-rows',
          `must be an integer ≥ 1, got ${flags.chunkRows}`,
        );
      const views = flags.views
        ?.split(',')
        .map((v) => v.trim())
        .filter((v) => v.length > 0);
      let online = flags.online;
      let onlineField = '--online';
      if (online === undefined) {
        // The store `kiban serve` reads: features.online, else the one beside stores.serving.
        const config = await loadKibanConfig(
          flags.config === undefined ? {} : { file: flags.config },
        );
        online = configuredOnlineStoreUrl(config);
        onlineField = config.features.online === undefined ? 'stores.serving' : 'features.online';
      }
      let progress: Progress | null = null;
      try {
        const result = await materializeRepository({
          repoDir: flags.repo,
          online,
          onlineField,
          start,
          end,
          stepMs,
          chunkRows,
          force: flags.force === true,
          ...(views === undefined ? {} : { views }),
          onProgress: (p) => {
            progress ??= startProgress('materializing', p.windowsTotal);
            progress.update(
              p.windowsDone,
              `${p.view} ${p.windowStart.toISOString().slice(0, 10)} | ${p.rows} rows, ${Math.round(p.rowsPerSecond)} rows/s`,
            );
          },
        });
        (progress as Progress | null)?.stop();
        progress = null;
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        for (const v of result.views)
          process.stdout.write(
            v.windows === 0
              ? `${v.view}: up to date (materialised through ${new Date(v.mark?.end ?? end.getTime()).toISOString()})\n`
              : `${v.view}: ${v.windows} windows from ${v.from.toISOString()}${v.resumed ? ' (resumed)' : ''}, ${v.rows} rows, ${v.rowsStored} stored\n`,
          );
        process.stdout.write(
          `materialised ${result.rows} rows (${result.rowsStored} stored) in ${result.seconds.toFixed(1)} s, ${Math.round(result.rowsPerSecond)} rows/s, to ${online.replace(/\/\/[^/@]*@/, '//***@')}\n`,
        );
      } finally {
        (progress as Progress | null)?.stop();
      }
    });
}
