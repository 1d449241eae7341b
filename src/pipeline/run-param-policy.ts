import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { InvalidArgumentError } from '../core/errors.js';
import { parameterReferences, substituteDeep } from '../workflow/substitute.js';
import type { WorkflowDefinition } from '../workflow/workflow-definition.js';
import { TASK_PARAM_ROLES, type TaskParamRoles } from './task-params.js';

/** What a run's parameters may reach. */
export interface RunParamPolicy {
  /** Files named through run parameters must resolve inside this directory (symlinks followed). */
  dataRoot: string;
  /**
   * Whether run parameters may set store URLs and module paths: true for the operator's command
   * line, false for the HTTP API (stores come only from the workflow file and server configuration).
   */
  allowStores: boolean;
}

const FILE_SPECS = ['csv:', 'jsonl:', 'parquet:'];
/** The roles of a kind that declares none (a handler registered outside kiban). */
const NO_ROLES: TaskParamRoles = { paths: [], stores: [], specs: [] };

/**
 * Checks a run's parameter overrides against what they feed in `wf`: a value that ends up in a
 * store (`params.stores.*`), a module path or a non-file stage spec (`query:`, `serving:`) is
 * refused unless `allowStores`; one that ends up in a file path (`config`, `events`, tags
 * `input`, file specs) must resolve inside `dataRoot`, with `..`, absolute paths and symlinks
 * that lead out of it refused. Paths resolve as the task resolves them: `config` against the
 * workflow file's directory, the others against the working directory.
 *
 * @throws InvalidArgumentError naming `params.<name>` and what it would reach.
 */
export function checkRunParams(
  wf: WorkflowDefinition,
  params: Readonly<Record<string, string | number | boolean>>,
  policy: RunParamPolicy,
): void {
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string' && value.includes('\0'))
      throw new InvalidArgumentError(`params.${name}`, 'must not contain a NUL character');
  }
  const overridden = new Set(Object.keys(params));
  const root = realOrResolved(resolve(policy.dataRoot));
  const values = {
    ...wf.params,
    ...params,
    logical_date: '2000-01-01T00:00:00.000Z',
    run_id: 'run',
    workflow: wf.name,
    task: 'task',
    attempt: 1,
  };
  for (const task of wf.tasks) {
    const roles: TaskParamRoles = TASK_PARAM_ROLES[task.kind] ?? NO_ROLES;
    const baseDir = dirname(resolve(wf.source));
    const fed = (template: string): string | undefined =>
      parameterReferences(template).find((n) => overridden.has(n));
    for (const field of ['module', 'export'] as const) {
      const template = task[field];
      const name = template === undefined ? undefined : fed(template);
      if (name !== undefined && !policy.allowStores)
        throw new InvalidArgumentError(
          `params.${name}`,
          `sets the module of task ${task.name}; module paths come only from the workflow file`,
        );
    }
    walk(task.params, [], (template, path) => {
      const name = fed(template);
      if (name === undefined) return;
      const where = `tasks.${task.name}.params.${path.join('.')}`;
      const key = path[0];
      const text = String(substituteDeep(template, values, where));
      if (roles.stores.includes(key)) {
        if (!policy.allowStores)
          throw new InvalidArgumentError(
            `params.${name}`,
            `sets a store (${where}); store URLs come only from the workflow file and the server's configuration`,
          );
      } else if (roles.specs.includes(key)) {
        const kind = FILE_SPECS.find((k) => text.startsWith(k));
        if (kind === undefined) {
          if (!policy.allowStores)
            throw new InvalidArgumentError(
              `params.${name}`,
              `sets ${where} to a query or store; only file specs (${FILE_SPECS.join(' ')}) may come from run parameters`,
            );
        } else insideRoot(name, where, resolve(text.slice(kind.length)), root);
      } else if (roles.paths.includes(key)) {
        const fromWorkflow = (roles.fromWorkflowDir ?? ['config']).includes(key);
        insideRoot(name, where, resolve(fromWorkflow ? baseDir : process.cwd(), text), root);
      }
    });
  }
}

function walk(
  value: unknown,
  path: string[],
  visit: (template: string, path: string[]) => void,
): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)], visit));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) walk(v, [...path, k], visit);
}

function insideRoot(name: string, where: string, path: string, root: string): void {
  const real = realOrResolved(path);
  const rel = relative(root, real);
  if (rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel))) return;
  throw new InvalidArgumentError(
    `params.${name}`,
    `${where} must name a file inside the data root (--data-root); this one is outside it`,
  );
}

/** The real path of `path`, or of its nearest existing ancestor with the rest appended (files not written yet). */
function realOrResolved(path: string): string {
  let head = path;
  const tail: string[] = [];
  while (!existsSync(head)) {
    const up = dirname(head);
    if (up === head) return path;
    tail.unshift(head.slice(up.length + (up.endsWith(sep) ? 0 : 1)));
    head = up;
  }
  return resolve(realpathSync(head), ...tail);
}
