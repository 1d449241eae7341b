import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { KibanError, NotFoundError } from '../../core/errors.js';
import { readWorkflowFile, WorkflowInvalidError } from '../parse-workflow.js';
import type { TaskHandlerRegistry } from '../task-handler-registry.js';
import type { WorkflowDefinition } from '../workflow-definition.js';

/** Workflows read from files, and the files that failed validation. */
export interface CatalogSnapshot {
  workflows: Map<string, WorkflowDefinition>;
  invalid: WorkflowInvalidError[];
}

/**
 * The workflows an engine knows: every `*.yaml`/`*.yml` file in a directory, and/or named files.
 * Read afresh on each {@link WorkflowCatalog.load}, so edits show up without a restart; a file
 * that fails validation is reported and left out, never half-loaded. Task kinds and params are
 * checked with `handlers` (default: shell and module only; see parseWorkflow).
 */
export class WorkflowCatalog {
  constructor(
    private readonly sources: { dir?: string; files?: string[]; handlers?: TaskHandlerRegistry },
  ) {}

  async load(): Promise<CatalogSnapshot> {
    const files = [...(this.sources.files ?? [])];
    if (this.sources.dir !== undefined) {
      const entries = await readdir(this.sources.dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT')
          throw new NotFoundError(`workflow directory "${this.sources.dir}"`);
        throw error;
      });
      for (const name of entries.sort())
        if (['.yaml', '.yml'].includes(extname(name))) files.push(join(this.sources.dir, name));
    }
    const workflows = new Map<string, WorkflowDefinition>();
    const invalid: WorkflowInvalidError[] = [];
    for (const file of files) {
      try {
        const wf = await readWorkflowFile(file, this.sources.handlers);
        const clash = workflows.get(wf.name);
        if (clash !== undefined) {
          invalid.push(
            new WorkflowInvalidError([
              {
                file,
                line: 1,
                path: 'name',
                message: `workflow "${wf.name}" is already defined in ${clash.source}`,
              },
            ]),
          );
        } else workflows.set(wf.name, wf);
      } catch (error) {
        if (!(error instanceof WorkflowInvalidError)) throw error;
        invalid.push(error);
      }
    }
    return { workflows, invalid };
  }

  /** The workflow of that name; NotFoundError lists the known ones. */
  async get(name: string): Promise<WorkflowDefinition> {
    const { workflows } = await this.load();
    const wf = workflows.get(name);
    if (wf === undefined)
      throw new KibanError(
        'NOT_FOUND',
        `workflow "${name}" not found; known: ${[...workflows.keys()].join(', ') || 'none'}`,
      );
    return wf;
  }
}
