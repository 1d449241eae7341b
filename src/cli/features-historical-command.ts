import { Command } from 'commander';

/** `kiban features historical`: point-in-time-correct feature values for an entity dataframe. */
export function featuresHistoricalCommand(): Command {
  return new Command('historical').description('(not yet implemented)');
}
