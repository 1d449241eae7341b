import type { WorkflowProblem } from './parse-workflow.js';
import type { WorkflowDefinition } from './workflow-definition.js';
import type { WorkflowRun, WorkflowStore } from './workflow-store.js';

/** A workflow as the dashboard and `kiban workflow list` show it. */
export interface WorkflowSummary {
  name: string;
  description?: string;
  /** The file it was read from. */
  source: string;
  schedule?: { cron: string; timezone: string; catchUp: 'skip' | 'run' };
  /** Next scheduled fire time (ISO-8601), or null when unscheduled. */
  nextRunAt: string | null;
  lastRun: WorkflowRun | null;
  tasks: { name: string; kind: string; needs: string[] }[];
}

/** A workflow file left out because it is invalid, and why. */
export interface InvalidWorkflowFile {
  file: string;
  problems: WorkflowProblem[];
}

/**
 * What the HTTP API and the dashboard may do with workflows: read them, start runs and retry
 * failed ones. Runs started here are driven in the background by this process's engine.
 */
export interface WorkflowService {
  readonly store: WorkflowStore;
  listWorkflows(): Promise<WorkflowSummary[]>;
  /** The workflow files that failed validation, each with every problem found (file order). */
  listInvalidWorkflows(): Promise<InvalidWorkflowFile[]>;
  /** The workflow of that name, or null. */
  getWorkflow(name: string): Promise<WorkflowDefinition | null>;
  /**
   * Starts a run in the background and resolves with its id once it is recorded. Throws
   * `NotFoundError` for an unknown workflow and `InvalidArgumentError` for unknown parameters
   * or a bad logical date.
   */
  startRun(
    name: string,
    options?: { logicalDate?: string; params?: Record<string, string | number | boolean> },
  ): Promise<string>;
  /**
   * Resumes a failed run from its failed tasks (and those that never ran because of them), in
   * the background. Throws `NotFoundError` for an unknown run, `InvalidArgumentError` when the
   * run has not failed.
   */
  retryRun(runId: string): Promise<void>;
}
