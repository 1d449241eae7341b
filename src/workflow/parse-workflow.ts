import { readFile } from 'node:fs/promises';
import { Cron } from 'croner';
import type { z } from 'zod';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { KibanError } from '../core/errors.js';
import { topologicalOrder } from './dag.js';
import { parseDuration } from './duration.js';
import { BUILT_IN_PARAMETERS, parameterReferences } from './substitute.js';
import { taskSchema, workflowSchema, type TaskDefinition, type WorkflowDefinition } from './workflow-definition.js';

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
    super('INVALID_DATA', problems.map((p) => `${p.file}:${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n'));
  }
}

/** Reads and validates a workflow file; see {@link parseWorkflow}. */
export async function readWorkflowFile(path: string): Promise<WorkflowDefinition> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new WorkflowInvalidError([{ file: path, line: 1, path: '', message: 'file not found or unreadable' }]);
  });
  return parseWorkflow(text, path);
}

/**
 * Parses and validates workflow YAML: its shape, task kinds and their required fields, `needs`
 * that name existing tasks and form no cycle, cron expressions and time zones, durations, and
 * `${…}` references to parameters that exist (declared `params` or built-ins such as
 * `logical_date`). Collects every problem before throwing one {@link WorkflowInvalidError}.
 *
 * @example
 * const wf = parseWorkflow(await readFile('nightly.yaml', 'utf8'), 'nightly.yaml');
 * wf.tasks.map((t) => t.name); // in an order that respects needs
 */
export function parseWorkflow(text: string, file: string): WorkflowDefinition {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: WorkflowProblem[] = [];
  const at = (path: (string | number)[], message: string): void => {
    problems.push({ file, line: lineOf(doc, lines, path), path: path.join('.'), message });
  };
  for (const e of doc.errors) problems.push({ file, line: lines.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
  if (problems.length > 0) throw new WorkflowInvalidError(problems);

  const report = (issues: z.core.$ZodIssue[], prefix: (string | number)[]): void => {
    for (const issue of issues) {
      const path = [...prefix, ...issue.path.map(pathPart)];
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) at([...path, key], 'unknown key');
      else at(path, issue.message);
    }
  };
  const parsed = workflowSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    report(parsed.error.issues, []);
    throw new WorkflowInvalidError(sortProblems(problems));
  }
  const w = parsed.data;
  // Tasks are checked one by one; a task whose shape is wrong is reported and then only counts
  // as a name others may need.
  const taskShapes = new Map<string, z.output<typeof taskSchema> | null>();
  for (const [name, raw] of Object.entries(w.tasks)) {
    const task = taskSchema.safeParse(raw ?? {});
    if (!task.success) report(task.error.issues, ['tasks', name]);
    taskShapes.set(name, task.success ? task.data : null);
  }
  const known = new Set<string>([...BUILT_IN_PARAMETERS, ...Object.keys(w.params)]);
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
      for (const name of parameterReferences(value)) if (!known.has(name)) at(path, `unknown parameter \${${name}}; known: ${[...known].join(', ')}`);
    } else if (Array.isArray(value)) value.forEach((v, i) => checkReferences(v, [...path, i]));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) checkReferences(v, [...path, k]);
  };

  if (w.schedule !== undefined) {
    if (!isTimeZone(w.schedule.timezone)) at(['schedule', 'timezone'], `unknown time zone "${w.schedule.timezone}"`);
    try {
      new Cron(w.schedule.cron, { paused: true }).stop();
    } catch (error) {
      at(['schedule', 'cron'], `bad cron expression "${w.schedule.cron}": ${(error as Error).message}`);
    }
  }
  const expectedDurationMs = ms(w.expectedDuration, ['expectedDuration']);

  const taskNames = Object.keys(w.tasks);
  if (taskNames.length === 0) at(['tasks'], 'a workflow needs at least one task');
  const tasks: TaskDefinition[] = [];
  for (const [name, t] of taskShapes) {
    if (t === null) continue;
    const path = ['tasks', name];
    const kind = t.kind ?? (t.run !== undefined ? 'shell' : undefined);
    if (kind === undefined) at(path, 'needs a kind (aggregate, train, evaluate, candidates, publish, shell, module, stage, tags) or a run command');
    if (kind === 'shell' && t.run === undefined) at(path, 'a shell task needs run: "command"');
    if (kind !== undefined && kind !== 'shell' && t.run !== undefined) at([...path, 'run'], `run is for shell tasks, not kind ${kind}`);
    const takesModule = kind === 'module' || kind === 'stage';
    if (takesModule && t.module === undefined) at(path, `a ${kind} task needs module: path/to/file.ts (and export:, default "default")`);
    if (!takesModule && (t.module !== undefined || t.export !== undefined)) at([...path, t.module !== undefined ? 'module' : 'export'], 'module and export are for kind: module and kind: stage');
    t.needs.forEach((dep, i) => {
      if (dep === name) at([...path, 'needs', i], 'a task cannot need itself');
      else if (!taskShapes.has(dep)) at([...path, 'needs', i], `unknown task "${dep}"; tasks are ${taskNames.join(', ')}`);
    });
    checkReferences(t.run, [...path, 'run']);
    checkReferences(t.module, [...path, 'module']);
    checkReferences(t.params, [...path, 'params']);
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
    const raw = (w.tasks[name] as { needs?: unknown } | null)?.needs;
    // Self-needs are reported on their own; they would otherwise also read as a cycle.
    return Array.isArray(raw) ? raw.filter((d): d is string => typeof d === 'string' && d !== name) : [];
  };
  const sorted = topologicalOrder(new Map(taskNames.map((n) => [n, needsOf(n)])));
  if ('cycle' in sorted) at(['tasks', sorted.cycle[0], 'needs'], `tasks form a cycle: ${sorted.cycle.join(' → ')}`);
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
