import { KibanError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SinkSpec } from './sink.js';
import type { ServingStoreOpener } from './sinks.js';
import type { ServingSourceOpenerRef, SourceSpec } from './source.js';
import type { StageRef } from './stage.js';

/** How a stage is run. */
export interface RunStageOptions {
  source: SourceSpec;
  /** @defaultValue { kind: 'collect' } */
  sink?: SinkSpec;
  /**
   * Opens the serving store of a `serving` sink (the composition root passes
   * `app/open-stores.ts`'s); a run with a serving sink and no opener fails before any work.
   * @defaultValue none
   */
  openServingStore?: ServingStoreOpener;
  /**
   * The module that opens the store of a `serving` source for reading (the composition root
   * passes `app/open-serving-source.ts`'s): a reference, because preprocess workers on other
   * threads and processes import it. A run with a serving source and no opener fails before any
   * work. @defaultValue none
   */
  servingSourceOpener?: ServingSourceOpenerRef;
  /** Passed to every function as `ctx.params` (JSON). */
  params?: Record<string, unknown>;
  /** Main workers (threads, processes or nodes). @defaultValue 1 */
  count?: number;
  /** Preprocess workers. @defaultValue 1 */
  numPreprocessors?: number;
  /** Records per message between workers. @defaultValue 1024 */
  batchSize?: number;
  signal?: AbortSignal;
  /**
   * Receives the stage's log lines as text, `STAGE: ` first (a workflow task's log, a terminal).
   * @defaultValue none: the lines go to {@link RunStageOptions.logger} instead
   */
  log?: (line: string) => void;
  /**
   * Where the stage's log lines go when no {@link RunStageOptions.log} is given: one `info`
   * entry each, with the stage's name as `stage`. @defaultValue the process logger's `stage` child
   */
  logger?: Logger;
}

/** What a successful run did. */
export interface StageResult {
  stage: string;
  runner: string;
  /** Records read from the source, yielded by preprocess, and written to the sink. */
  records: { read: number; preprocessed: number; written: number };
  partitions: number;
  seconds: number;
  /** The sink's figures (path, parts, version…). */
  sink: Record<string, number | string>;
  /** The outputs, for a `collect` sink. */
  outputs?: unknown[];
}

/**
 * Runs stages: in this process, on worker threads, or on processes connected by ZeroMQ. Every
 * runner gives the same results for the same stage and input (up to the order in which main
 * workers receive records), and a failure anywhere fails the whole stage with a
 * {@link StageFailedError} and writes nothing to the sink.
 */
export interface StageRunner {
  readonly name: string;
  run(stage: StageRef, options: RunStageOptions): Promise<StageResult>;
}

/** A stage failed: which function, on which rank, and why. Nothing was written to its sink. */
export class StageFailedError extends KibanError {
  constructor(
    readonly stage: string,
    readonly where: string,
    cause: unknown,
  ) {
    super(
      'INTERNAL',
      `stage ${stage} failed in ${where}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}
