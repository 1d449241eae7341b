/**
 * {@link loadStage}, on its own so that workers (threads, ZeroMQ processes) can import a stage
 * without importing `coordinator.ts`, which drags in every sink backend.
 *
 * @module
 */
import { InvalidArgumentError } from '../core/errors.js';
import { importModule } from '../core/import-module.js';
import type { StageDefinition, StageRef } from './stage.js';

/**
 * Imports a stage by module path and export name, checking that it is one. TypeScript modules
 * load from compiled kiban too, in any thread or process ({@link importModule}).
 */
export async function loadStage(ref: StageRef): Promise<StageDefinition> {
  const loaded = await importModule(ref.module);
  const name = ref.export ?? 'default';
  const stage = loaded[name] as StageDefinition | undefined;
  if (stage === undefined || typeof stage !== 'object' || typeof stage.main !== 'function') {
    throw new InvalidArgumentError(
      'stage',
      `${ref.module} has no stage export "${name}" (define it with defineStage)`,
    );
  }
  return stage;
}
