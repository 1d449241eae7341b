#!/usr/bin/env node
import { Command } from 'commander';
import { reportError } from './errors.js';
import { evaluateCommand } from './evaluate-command.js';

/** The `kiban` command line. */
export function buildProgram(): Command {
  return new Command('kiban')
    .description('kiban: recommendations and real-time ML features for many services, on one platform.')
    .showHelpAfterError('(add --help for usage)')
    .addCommand(evaluateCommand());
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}
