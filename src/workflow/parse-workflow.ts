import { readFile } from 'node:fs/promises';
import { Cron } from 'croner';
import type { z } from 'zod';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { KibanError } from '../core/errors.js';
import { topologicalOrder } from './dag.js';
import { parseDuration } from './duration.js';
import { coreTaskHandlers } from './core-task-handlers.js';
import {
  BUILT_IN_PARAMETERS,
  parameterReferences,
  parameterVariable,
  shellReferenceMessage,
  substituteDeep,
} from './substitute.js';
import type { TaskHandlerRegistry } from './task-handler-registry.js';
import {
  taskSchema,
  workflowSchema,
  type TaskDefinition,
  type WorkflowDefinition,
} from './workflow-definition.js';

/** One thing wrong with a workflow file, located as precisely as the file allows. */
export interface WorkflowProblem {
  file: string;
  /** 1-based; the line of the offending value, or of its nearest enclosing key. */
  line: number;
  /** Dotted path of the offending key, e.g. `tasks.train.needs`. */
  path: string;
  message: string;
}

/** A workflow file failed validation; `problems` lists everything found, in file order. */
export class WorkflowInvalidError extends KibanError {
  constructor(readonly problems: WorkflowProblem[]) {
    super(
      'INVALID_DATA',
      problems
        .map((p) => `${p.file}:${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`)
        .join('\n'),
    );
  }
}

/** Reads and validates a workflow file; see {@link parseWorkflow}. */
export async function readWorkflowFile(
  path: string,
  handlers?: TaskHandlerRegistry,
): Promise<WorkflowDefinition> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new WorkflowInvalidError([
      { file: path, line: 1, path: '', message: 'file not found or unreadable' },
    ]);
  });
  return parseWorkflow(text, path, handlers);
}

/**
 * Parses and validates workflow YAML: its shape, task kinds (those registered in `handlers`)
 * and their required fields, each task's params by its handler's schema, `needs` that name
 * existing tasks and form no cycle, cron expressions and time zones, durations, and `${…}`
 * references to parameters that exist (declared `params` or built-ins such as `logical_date`).
 * Collects every problem before throwing one {@link WorkflowInvalidError}. Without `handlers`
 * only shell and module tasks are known; the composition root's `builtinTaskHandlers()` (in
 * `src/app`) knows every built-in kind.
 *
 * @example
 * const wf = parseWorkflow(await readFile('nightly.yaml', 'utf8'), 'nightly.yaml', builtinTaskHandlers());
 * wf.tasks.map((t) => t.name); // in an order that respects needs
 */
export function parseWorkflow(
  text: string,
  file: string,
  handlers: TaskHandlerRegistry = coreTaskHandlers(),
): WorkflowDefinition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: WorkflowProblem[] = [];
  const at = (path: (string | number)[], message: string): void => {
    problems.push({ file, line: lineOf(doc, lines, path), path: path.join('.'), message });
  };
  for (const e of doc.errors)
    problems.push({
      file,
      line: lines.linePos(e.pos[0]).line,
      path: '',
      message: `YAML: ${e.message.split('\n')[0]}`,
    });
  if (problems.length > 0) throw new WorkflowInvalidError(problems);

  const report = (issues: z.core.$ZodIssue[], prefix: (string | number)[]): void => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path.map(pathPart)];
      if (issue.code === 'unrecognized_keys')
        for (const key of issue.keys) at([...path, key], 'unknown key');
      else at(path, issue.message);
    }
  };
  const input: unknown = doc.toJS() ?? {};
  if (!isMapping(input)) {
    at([], 'a workflow file must be a mapping with name: and tasks:');
    throw new WorkflowInvalidError(problems);
  }
  // Each top-level key is checked on its own, so that one typo hides no other problem.
  const fields = workflowSchema.shape;
  for (const key of Object.keys(input))
    if (!Object.hasOwn(fields, key))
      at([key], `unknown key; known: ${Object.keys(fields).join(', ')}`);
  const top = <K extends keyof typeof fields>(
    key: K,
    fallback: z.output<(typeof fields)[K]>,
  ): z.output<(typeof fields)[K]> => {
    const result = fields[key].safeParse(input[key]);
    if (result.success) return result.data as z.output<(typeof fields)[K]>;
    report(result.error.issues, [key]);
    return fallback;
  };
  const w = {
    name: top('name', ''),
    description: top('description', undefined),
    schedule: top('schedule', undefined),
    params: top('params', {}),
    waitFor: top('waitFor', []),
    expectedDuration: top('expectedDuration', undefined),
    notify: top('notify', { on: ['failure'] }),
    tasks: isMapping(input.tasks) ? input.tasks : top('tasks', {}),
  };
  // Tasks are checked one by one; a task whose shape is wrong is reported and then only counts
  // as a name others may need.
  const taskShapes = new Map<string, z.output<typeof taskSchema> | null>();
  for (const [name, raw] of Object.entries(w.tasks)) {
    if (!TASK_NAME.test(name))
      at(
        ['tasks', name],
        'task names: letters, digits, ".", "_" or "-", at most 64, starting with a letter or digit',
      );
    const task = taskSchema.safeParse(raw ?? {});
    if (!task.success) report(task.error.issues, ['tasks', name]);
    taskShapes.set(name, task.success ? task.data : null);
  }
  // Declared names count even when a value is bad (reported above): no knock-on "unknown parameter".
  const declared = isMapping(input.params) ? Object.keys(input.params) : Object.keys(w.params);
  const variables = new Map<string, string>();
  for (const name of declared) {
    const variable = parameterVariable(name);
    const clash = variables.get(variable);
    if (clash !== undefined || (BUILT_IN_PARAMETERS as readonly string[]).includes(name)) {
      at(
        ['params', name],
        clash !== undefined
          ? `reaches shell tasks as ${variable}, as "${clash}" does; rename one`
          : `"${name}" is a built-in parameter`,
      );
    }
    variables.set(variable, name);
  }
  const known = new Set<string>([...BUILT_IN_PARAMETERS, ...declared]);
  const ms = (value: number | string | undefined, path: (string | number)[]): number | null => {
    if (value === undefined) return null;
    try {
      return parseDuration(value, path.join('.'));
    } catch (error) {
      at(path, (error as Error).message.replace(/^[^:]+: /, ''));
      return null;
    }
  };
  const checkReferences = (value: unknown, path: (string | number)[]): void => {
    if (typeof value === 'string') {
      for (const name of parameterReferences(value))
        if (!known.has(name))
          at(path, `unknown parameter \${${name}}; known: ${[...known].join(', ')}`);
    } else if (Array.isArray(value)) value.forEach((v, i) => checkReferences(v, [...path, i]));
    else if (value !== null && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) checkReferences(v, [...path, k]);
  };

  if (w.schedule !== undefined) {
    if (!isTimeZone(w.schedule.timezone))
      at(['schedule', 'timezone'], `unknown time zone "${w.schedule.timezone}"`);
    try {
      new Cron(w.schedule.cron, { paused: true }).stop();
    } catch (error) {
      at(
        ['schedule', 'cron'],
        `bad cron expression "${w.schedule.cron}": ${(error as Error).message}`,
      );
    }
  }
  const expectedDurationMs = ms(w.expectedDuration, ['expectedDuration']);

  const taskNames = Object.keys(w.tasks);
  if (taskNames.length === 0) at(['tasks'], 'a workflow needs at least one task');
  const tasks: TaskDefinition[] = [];
  for (const [name, t] of taskShapes) {
    if (t === null) continue;
    const path = ['tasks', name];
    const given = t.kind ?? (t.run !== undefined ? 'shell' : undefined);
    const handler = given === undefined ? undefined : handlers.get(given);
    if (given === undefined)
      at(path, `needs a kind (${handlers.kinds().join(', ')}) or a run command`);
    else if (handler === undefined) at([...path, 'kind'], handlers.unknownKindMessage(given));
    const kind = handler?.kind;
    if (kind === 'shell' && t.run === undefined) at(path, 'a shell task needs run: "command"');
    if (kind !== undefined && kind !== 'shell' && t.run !== undefined)
      at([...path, 'run'], `run is for shell tasks, not kind ${kind}`);
    const takesModule = handler?.takesModule === true;
    if (takesModule && t.module === undefined)
      at(path, `a ${kind} task needs module: path/to/file.ts (and export:, default "default")`);
    if (handler !== undefined && !takesModule && (t.module !== undefined || t.export !== undefined))
      at(
        [...path, t.module !== undefined ? 'module' : 'export'],
        `module and export are for ${moduleKinds(handlers)}`,
      );
    t.needs.forEach((dep, i) => {
      if (dep === name) at([...path, 'needs', i], 'a task cannot need itself');
      else if (!taskShapes.has(dep))
        at([...path, 'needs', i], `unknown task "${dep}"; tasks are ${taskNames.join(', ')}`);
    });
    if (t.run !== undefined)
      for (const ref of new Set(parameterReferences(t.run)))
        at(
          [...path, 'run'],
          known.has(ref)
            ? shellReferenceMessage(ref)
            : `unknown parameter \${${ref}}; write $\${${ref}} for the shell's own variable`,
        );
    checkReferences(t.module, [...path, 'module']);
    checkReferences(t.params, [...path, 'params']);
    if (kind !== undefined) {
      // With the declared defaults in, as a run without overrides would see them.
      const sample = substituteKnown(t.params, {
        ...w.params,
        logical_date: '2000-01-01T00:00:00.000Z',
        run_id: `${w.name}-sample`,
        workflow: w.name,
        task: name,
        attempt: 1,
      });
      for (const p of handlers.validate(kind, sample as Record<string, unknown>))
        at([...path, 'params', ...(p.path === '' ? [] : p.path.split('.'))], p.message);
    }
    const backoffMs = ms(t.retry?.backoff ?? '10s', [...path, 'retry', 'backoff']) ?? 0;
    const maxBackoffMs = ms(t.retry?.maxBackoff ?? '1h', [...path, 'retry', 'maxBackoff']) ?? 0;
    tasks.push({
      name,
      kind: kind ?? 'shell',
      ...(t.run === undefined ? {} : { run: t.run }),
      ...(t.module === undefined ? {} : { module: t.module, export: t.export ?? 'default' }),
      needs: t.needs,
      retry: { count: t.retry?.count ?? 0, backoffMs, maxBackoffMs },
      timeoutMs: ms(t.timeout, [...path, 'timeout']),
      params: t.params,
    });
  }
  const needsOf = (name: string): string[] => {
    const raw = ((w.tasks as Record<string, unknown>)[name] as { needs?: unknown } | null)?.needs;
    // Self-needs are reported on their own; they would otherwise also read as a cycle.
    return Array.isArray(raw)
      ? raw.filter((d): d is string => typeof d === 'string' && d !== name)
      : [];
  };
  const sorted = topologicalOrder(new Map(taskNames.map((n) => [n, needsOf(n)])));
  if ('cycle' in sorted)
    at(['tasks', sorted.cycle[0], 'needs'], `tasks form a cycle: ${sorted.cycle.join(' → ')}`);
  if (problems.length > 0) throw new WorkflowInvalidError(sortProblems(problems));

  const byName = new Map(tasks.map((t) => [t.name, t]));
  return {
    name: w.name,
    ...(w.description === undefined ? {} : { description: w.description }),
    ...(w.schedule === undefined ? {} : { schedule: w.schedule }),
    params: w.params,
    waitFor: w.waitFor,
    expectedDurationMs,
    notify: w.notify,
    tasks: 'order' in sorted ? sorted.order.map((n) => byName.get(n)!) : tasks,
    source: file,
  };
}

const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `kind: module and kind: stage`: the kinds whose handler takes a module, as messages name them. */
function moduleKinds(handlers: TaskHandlerRegistry): string {
  return handlers
    .kinds()
    .filter((k) => handlers.get(k)?.takesModule === true)
    .map((k) => `kind: ${k}`)
    .join(' and ');
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** {@link substituteDeep}, leaving a string whose references are not all known as written (reported elsewhere). */
function substituteKnown(
  value: unknown,
  values: Record<string, string | number | boolean>,
): unknown {
  if (typeof value === 'string')
    return parameterReferences(value).every((n) => Object.hasOwn(values, n))
      ? substituteDeep(value, values, 'params')
      : value;
  if (Array.isArray(value)) return value.map((v) => substituteKnown(v, values));
  if (isMapping(value))
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, substituteKnown(v, values)]),
    );
  return value;
}

/** Line of the node at `path`, or of the closest ancestor the document has. */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}

function pathPart(p: PropertyKey): string | number {
  return typeof p === 'number' ? p : String(p);
}

function sortProblems(problems: WorkflowProblem[]): WorkflowProblem[] {
  return problems.sort((a, b) => a.line - b.line);
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
