import { Command } from 'commander';

/** `kiban migrate`: brings the metadata store's schema up to date (the deploy's migration Job). */
export function migrateCommand(): Command {
  return new Command('migrate').description('(not yet implemented)');
}
