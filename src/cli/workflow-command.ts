import { Command } from 'commander';
import { readWorkflowFile, WorkflowInvalidError } from '../workflow/parse-workflow.js';

/** `kiban workflow …`: workflow definitions (validation for now; running comes with the engine). */
export function workflowCommand(): Command {
  const workflow = new Command('workflow').description('Workflows: DAGs of pipeline steps, shell commands and module exports, in YAML.');
  workflow
    .command('validate')
    .description(
      'Check workflow files: their keys, task kinds, needs (unknown tasks, cycles), cron expressions and time zones, ' +
        'durations and ${…} parameters. Prints every problem as FILE:LINE: reason; exits 3 if any file is invalid.',
    )
    .argument('<files...>', 'workflow YAML files')
    .option('--json', 'print the parsed workflows (or the problems) as JSON')
    .action(async (files: string[], options: { json?: boolean }) => {
      let invalid = 0;
      const results: unknown[] = [];
      for (const file of files) {
        try {
          const wf = await readWorkflowFile(file);
          results.push({ file, valid: true, workflow: wf });
          if (!options.json) process.stdout.write(`${file}: ok (${wf.name}: ${wf.tasks.map((t) => t.name).join(' → ')})\n`);
        } catch (error) {
          if (!(error instanceof WorkflowInvalidError)) throw error;
          invalid++;
          results.push({ file, valid: false, problems: error.problems });
          if (!options.json) process.stderr.write(`${error.message}\n`);
        }
      }
      if (options.json) process.stdout.write(`${JSON.stringify(results)}\n`);
      if (invalid > 0) process.exitCode = 3;
    });
  return workflow;
}
