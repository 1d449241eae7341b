#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { reportError } from './errors.js';
import { evaluateCommand } from './evaluate-command.js';

/** The `kiban` command line. Usage errors exit with status 2, like other bad arguments. */
export function buildProgram(): Command {
  const program = new Command('kiban')
    .description('kiban: recommendations and real-time ML features for many services, on one platform.')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  program.addCommand(evaluateCommand().exitOverride().showHelpAfterError('(add --help for usage)'));
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
