#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { reportError } from './errors.js';
import { abCommand } from './ab-command.js';
import { artifactsCommand } from './artifacts-command.js';
import { banditCommand } from './bandit-command.js';
import { demoCommand } from './demo-command.js';
import { evaluateCommand } from './evaluate-command.js';
import { exportCommand } from './export-command.js';
import { featuresCommand } from './features-command.js';
import { keysCommand } from './keys-command.js';
import { migrateCommand } from './migrate-command.js';
import { modelsCommand } from './models-command.js';
import { pipelineCommand } from './pipeline-command.js';
import { schedulerCommand } from './scheduler-command.js';
import { serveCommand } from './serve-command.js';
import { servicesCommand } from './services-command.js';
import { stageCommand } from './stage-command.js';
import { tagsCommand } from './tags-command.js';
import { tuneCommand } from './tune-command.js';
import { vectorsCommand } from './vectors-command.js';
import { workerCommand } from './worker-command.js';
import { workflowCommand } from './workflow-command.js';

/** The `kiban` command line. Usage errors exit with status 2, like other bad arguments. */
export function buildProgram(): Command {
  const program = new Command('kiban').description(
    'kiban: recommendations and real-time ML features for many services, on one platform.',
  );
  for (const command of [
    demoCommand(),
    evaluateCommand(),
    tuneCommand(),
    pipelineCommand(),
    modelsCommand(),
    serveCommand(),
    servicesCommand(),
    workflowCommand(),
    schedulerCommand(),
    workerCommand(),
    stageCommand(),
    tagsCommand(),
    artifactsCommand(),
    vectorsCommand(),
    featuresCommand(),
    migrateCommand(),
    keysCommand(),
    exportCommand(),
  ])
    program.addCommand(command);
  program.addCommand(banditCommand());
  program.addCommand(abCommand());
  const configure = (command: Command): void => {
    command.exitOverride().showHelpAfterError('(add --help for usage)');
    command.commands.forEach(configure);
  };
  configure(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help text).
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    process.exitCode = reportError(error);
  }
}
