import { Command } from 'commander';

/** `kiban features materialize`: copies the latest offline values of a window to the online store. */
export function featuresMaterializeCommand(): Command {
  return new Command('materialize').description('(not yet implemented)');
}
