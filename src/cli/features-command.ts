import { Command } from 'commander';
import { featuresHistoricalCommand } from './features-historical-command.js';
import { featuresMaterializeCommand } from './features-materialize-command.js';
import { featuresPlanCommand, featuresApplyCommand } from './features-registry-commands.js';

/** `kiban features`: feature definitions, point-in-time training data and online features. */
export function featuresCommand(): Command {
  return new Command('features')
    .description(
      'Feature store: shared feature definitions (features.yaml), point-in-time-correct training data and online features.',
    )
    .addCommand(featuresPlanCommand())
    .addCommand(featuresApplyCommand())
    .addCommand(featuresHistoricalCommand())
    .addCommand(featuresMaterializeCommand());
}
