import { z } from 'zod';

/**
 * A task kind: one registered with the `TaskHandlerRegistry` the workflow is validated
 * and run with. `shell` (a command) and `module` (a TypeScript export) always are; the
 * composition root adds the pipeline steps, `stage` and `tags`.
 */
export type TaskKind = string;

/** Run events a workflow can ask to be notified of. */
export const NOTIFY_EVENTS = ['failure', 'success', 'overdue'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const duration = z.union([z.number(), z.string()]);
const paramValue = z.union([z.string(), z.number(), z.boolean()]);

/** The YAML shape of one task, as written (durations still text). */
export const taskSchema = z
  .object({
    /** Checked against the registry of task handlers (see parseWorkflow). */
    kind: z.string().min(1).optional(),
    /** Shell command; a task with `run` and no kind is a shell task. */
    run: z.string().min(1).optional(),
    /** Module path (relative to the workflow file) and export name, for kinds whose handler takes a module (`module`, `stage`). */
    module: z.string().min(1).optional(),
    export: z.string().min(1).optional(),
    needs: z.array(z.string()).default([]),
    retry: z
      .object({
        count: z.int().min(0).max(100),
        backoff: duration.default('10s'),
        maxBackoff: duration.default('1h'),
      })
      .strict()
      .optional(),
    timeout: duration.optional(),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** The YAML shape of a workflow file. */
export const workflowSchema = z
  .object({
    name: z
      .string()
      .regex(NAME, 'letters, digits, ".", "_" or "-", at most 64, starting with a letter or digit'),
    description: z.string().optional(),
    schedule: z
      .object({
        cron: z.string().min(1),
        timezone: z.string().default('UTC'),
        /** After downtime: `skip` missed runs, or `run` each of them. */
        catchUp: z.enum(['skip', 'run']).default('skip'),
      })
      .strict()
      .optional(),
    params: z.record(z.string(), paramValue).default({}),
    /** Workflows whose successful run for the same logical date must exist first. */
    waitFor: z.array(z.object({ workflow: z.string().regex(NAME) }).strict()).default([]),
    /** Notify when a run takes longer than this (with `notify.on: [overdue]`). */
    expectedDuration: duration.optional(),
    /** Which run events reach the configured notifiers (Slack, webhook, log). */
    notify: z
      .object({ on: z.array(z.enum(NOTIFY_EVENTS)).default(['failure']) })
      .strict()
      .default({ on: ['failure'] }),
    /** Each task is checked on its own (see taskSchema), so that one bad task hides no other problem. */
    tasks: z.record(
      z.string().regex(NAME, 'task names: letters, digits, ".", "_" or "-"'),
      z.unknown(),
    ),
  })
  .strict();

/** A validated task, durations in milliseconds. */
export interface TaskDefinition {
  name: string;
  kind: TaskKind;
  run?: string;
  module?: string;
  export?: string;
  needs: string[];
  retry: { count: number; backoffMs: number; maxBackoffMs: number };
  timeoutMs: number | null;
  params: Record<string, unknown>;
}

/** A validated workflow: tasks in an order that respects `needs`. */
export interface WorkflowDefinition {
  name: string;
  description?: string;
  schedule?: { cron: string; timezone: string; catchUp: 'skip' | 'run' };
  params: Record<string, string | number | boolean>;
  waitFor: { workflow: string }[];
  expectedDurationMs: number | null;
  notify: { on: NotifyEvent[] };
  tasks: TaskDefinition[];
  /** Where it was read from, for messages and relative module paths. */
  source: string;
}

/**
 * How the `source` of a definition whose tasks run only in the process that started the run
 * begins (the built-in `recommend` workflow of `kiban pipeline run`: its tasks take the
 * configuration that process holds, not params). Another process cannot resume or retry such a
 * run, since it would run the tasks with other settings; see {@link isInProcessOnly}.
 */
export const IN_PROCESS_SOURCE_PREFIX = '<in-process ';

/** Whether runs of `definition` can only be driven by the process that started them. */
export function isInProcessOnly(definition: Pick<WorkflowDefinition, 'source'>): boolean {
  return definition.source.startsWith(IN_PROCESS_SOURCE_PREFIX);
}
