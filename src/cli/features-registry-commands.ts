import { Command } from 'commander';

/** `kiban features plan`: what `apply` would change in the registry. */
export function featuresPlanCommand(): Command {
  return new Command('plan').description('(not yet implemented)');
}

/** `kiban features apply`: records the repository's definitions in the registry. */
export function featuresApplyCommand(): Command {
  return new Command('apply').description('(not yet implemented)');
}
