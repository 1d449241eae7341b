import { stringify } from 'yaml';
import type { z } from 'zod';
import { parseWorkflow } from './parse-workflow.js';
import type { TaskHandlerRegistry } from './task-handler-registry.js';
import type { taskSchema, workflowSchema, WorkflowDefinition } from './workflow-definition.js';

/** A workflow written in TypeScript: the same shape as the YAML file. */
export type WorkflowSpec = Omit<z.input<typeof workflowSchema>, 'tasks'> & {
  tasks: Record<string, z.input<typeof taskSchema>>;
};

/**
 * Validates a workflow written in TypeScript, with exactly the checks `kiban workflow validate`
 * applies to YAML (cycles, unknown tasks, cron, durations, parameters), so that both forms mean
 * the same. Problems are reported by key path; `source` names the definition in messages and is
 * the base of relative module paths. Task kinds and params are checked with `handlers` (default:
 * shell and module only; pass the composition root's `builtinTaskHandlers()` for the rest).
 *
 * @example
 * const wf = defineWorkflow({
 *   name: 'nightly',
 *   schedule: { cron: '0 3 * * *', timezone: 'Asia/Tokyo' },
 *   tasks: { aggregate: { kind: 'aggregate' }, report: { run: 'echo done ${logical_date}', needs: ['aggregate'] } },
 * }, import.meta.filename, builtinTaskHandlers());
 * await engine.runToEnd((await engine.createRun(wf, { trigger: 'manual' }))!.id);
 */
export function defineWorkflow(
  spec: WorkflowSpec,
  source = `<typescript ${spec.name}>`,
  handlers?: TaskHandlerRegistry,
): WorkflowDefinition {
  return parseWorkflow(stringify(spec), source, handlers);
}
