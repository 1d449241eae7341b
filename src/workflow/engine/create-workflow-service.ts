import type { MetadataStore } from '../../storage/metadata-store.js';
import type { Executor } from '../executor.js';
import type { Notifier } from '../notifiers/notifier.js';
import type { TaskHandlerRegistry } from '../task-handler-registry.js';
import { WorkflowCatalog } from './workflow-catalog.js';
import { WorkflowEngine } from './workflow-engine.js';

/**
 * A {@link WorkflowEngine} over the workflows of a directory, recording runs in the metadata
 * store's workflow tables: what `kiban serve --workflows` hands to the HTTP API. The workflows'
 * tasks are validated with `handlers` (default: shell and module only).
 */
export async function createWorkflowService(options: {
  dir: string;
  metadata: MetadataStore;
  executor: Executor;
  runUrl?: (runId: string) => string;
  notifiers?: Notifier[];
  workRoot?: string;
  handlers?: TaskHandlerRegistry;
}): Promise<WorkflowEngine> {
  return new WorkflowEngine({
    store: options.metadata.workflows,
    executor: options.executor,
    catalog: new WorkflowCatalog({
      dir: options.dir,
      ...(options.handlers === undefined ? {} : { handlers: options.handlers }),
    }),
    ...(options.runUrl === undefined ? {} : { runUrl: options.runUrl }),
    ...(options.notifiers === undefined ? {} : { notifiers: options.notifiers }),
    ...(options.workRoot === undefined ? {} : { workRoot: options.workRoot }),
  });
}
