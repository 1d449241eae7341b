import { Command, Option } from 'commander';
import { migrateMetadataStore } from '../app/backends.js';
import { loadKibanConfig, storeFields } from '../app/config.js';
import { metadataMigrations } from '../storage/metadata-migrations.js';
import { flagOverlay } from './config-flags.js';

/**
 * `kiban migrate`: brings the metadata store's schema up to date and exits (the deploy's
 * migration Job, run before a new version rolls out). Prints each migration it applied; running
 * it again, or several at once against one store, is harmless: PostgreSQL serialises migrators
 * with an advisory lock, SQLite with its write lock, and a migration already applied is skipped.
 */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description(
      'Bring the metadata store (stores.metadata: sqlite:PATH or postgres://…) up to date and exit, printing the ' +
        'migrations applied. Idempotent and safe to run from several processes at once; run it before rolling out a new version.',
    )
    .option(
      '--config <file>',
      'configuration naming the metadata store (default: the embedded one)',
    )
    .addOption(
      new Option('--metadata <url>', 'metadata store to migrate: sqlite:PATH or postgres://…').env(
        'KIBAN_METADATA_URL',
      ),
    )
    .addHelpText(
      'after',
      '\nExample:\n  kiban migrate --metadata postgres://kiban@db:5432/kiban\n  kiban migrate --config /etc/kiban/kiban.yaml   # stores.metadata, or KIBAN_STORES_METADATA\n',
    )
    .action(async (options: { config?: string }, command: Command) => {
      const config = await loadKibanConfig({
        ...(options.config === undefined ? {} : { file: options.config }),
        flags: flagOverlay(command, { metadata: ['stores.metadata', '--metadata'] }),
      });
      const applied = await migrateMetadataStore(
        config.stores.metadata,
        storeFields(config).metadata,
      );
      for (const name of applied) process.stdout.write(`applied ${name}\n`);
      const names = Object.keys(metadataMigrations()).sort();
      const latest = names[names.length - 1];
      process.stdout.write(
        applied.length === 0
          ? `metadata store already up to date (${names.length} migrations, latest ${latest})\n`
          : `metadata store up to date: applied ${applied.length} of ${names.length} migrations (latest ${latest})\n`,
      );
    });
}
