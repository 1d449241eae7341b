import { InvalidArgumentError } from '../core/errors.js';
import { childLogger, processLogger } from '../core/log.js';
import { loadStage } from './load-stage.js';
import type { RoleFigures } from './roles.js';
import { StageFailedError, type RunStageOptions, type StageResult } from './runner.js';
import type { SinkWriter } from './sink.js';
import { openSink } from './sinks.js';
import type { ServingSourceOpener, SourcePartition } from './source.js';
import { planPartitions, servingSourceOpener } from './sources.js';
import type { StageDefinition, StageRef } from './stage.js';

/** Re-exported for existing importers; workers should import `load-stage.ts` directly. */
export { loadStage };

/** Options with their defaults filled in. */
export type ResolvedOptions = Required<
  Omit<RunStageOptions, 'signal' | 'openServingStore' | 'servingSourceOpener'>
> &
  Pick<RunStageOptions, 'signal' | 'openServingStore' | 'servingSourceOpener'>;

/** What a runner's body gets from {@link coordinate}. */
export interface Coordination {
  stage: StageDefinition;
  options: ResolvedOptions;
  partitions: SourcePartition[];
  /** Hands out partitions one at a time, to whichever preprocess worker asks first. */
  nextPartition: () => Promise<SourcePartition | null>;
  /** Writes main workers' results to the sink (only the coordinator writes). */
  write: (batch: unknown[]) => Promise<void>;
  /** Aborted as soon as anything fails; transports stop their workers on it. */
  signal: AbortSignal;
  /** Records the first failure (which function, which rank) and aborts everything. */
  fail: (where: string, error: unknown) => void;
  log: (line: string) => void;
  /** Opens a `serving` source's store in this process (from `options.servingSourceOpener`). */
  openServingSource?: ServingSourceOpener;
}

export function resolveOptions(options: RunStageOptions): ResolvedOptions {
  const count = options.count ?? 1;
  const numPreprocessors = options.numPreprocessors ?? 1;
  const batchSize = options.batchSize ?? 1024;
  const logger = options.logger ?? childLogger(processLogger(), 'stage');
  for (const [field, value] of [
    ['count', count],
    ['numPreprocessors', numPreprocessors],
    ['batchSize', batchSize],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidArgumentError(field, `must be a whole number ≥ 1, got ${value}`);
  }
  return {
    source: options.source,
    sink: options.sink ?? { kind: 'collect' },
    params: options.params ?? {},
    count,
    numPreprocessors,
    batchSize,
    logger,
    log: options.log ?? ((line) => logger.info(line)),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.openServingStore === undefined
      ? {}
      : { openServingStore: options.openServingStore }),
    ...(options.servingSourceOpener === undefined
      ? {}
      : { servingSourceOpener: options.servingSourceOpener }),
  };
}

/**
 * The coordinator's part, the same for every runner: loads the stage, plans the source's
 * partitions, opens the sink, runs the runner's `body` (which starts the workers and waits for
 * them), then commits the sink, or aborts it on the first failure so that nothing partial is
 * left, and reports a {@link StageFailedError} naming where it failed.
 */
export async function coordinate(
  ref: StageRef,
  runOptions: RunStageOptions,
  runner: string,
  body: (c: Coordination) => Promise<RoleFigures>,
): Promise<StageResult> {
  const started = performance.now();
  const options = resolveOptions(runOptions);
  const stage = await loadStage(ref);
  const openServingSource =
    options.servingSourceOpener === undefined
      ? undefined
      : servingSourceOpener(options.servingSourceOpener);
  const partitions = await planPartitions(options.source, {
    target: options.numPreprocessors,
    ...(openServingSource === undefined ? {} : { openServingSource }),
  });
  const sink: SinkWriter = await openSink(
    options.sink,
    options.openServingStore === undefined ? {} : { openServingStore: options.openServingStore },
  );
  const abort = new AbortController();
  let failure: { where: string; error: unknown } | null = null;
  const fail = (where: string, error: unknown): void => {
    failure ??= { where, error };
    abort.abort(error);
  };
  const onCancel = (): void => fail('the caller', options.signal?.reason ?? new Error('cancelled'));
  options.signal?.addEventListener('abort', onCancel, { once: true });
  let next = 0;
  let written = 0;
  try {
    const figures = await body({
      stage,
      options,
      partitions,
      nextPartition: async () =>
        abort.signal.aborted || next >= partitions.length ? null : partitions[next++],
      write: async (batch) => {
        written += batch.length;
        await sink.write(batch);
      },
      signal: abort.signal,
      fail,
      log:
        runOptions.log === undefined
          ? (line) => options.logger.info({ stage: stage.name }, line)
          : (line) => options.log(`${stage.name}: ${line}`),
      ...(openServingSource === undefined ? {} : { openServingSource }),
    }).catch((error: unknown) => {
      fail('the runner', error);
      return null;
    });
    if (failure !== null || figures === null) throw failure;
    const sinkFigures = await sink.commit();
    const outputs = (sink as { records?: unknown[] }).records;
    return {
      stage: stage.name,
      runner,
      records: { read: figures.read, preprocessed: figures.preprocessed, written },
      partitions: partitions.length,
      seconds: (performance.now() - started) / 1000,
      sink: sinkFigures,
      ...(options.sink.kind === 'collect' && outputs !== undefined ? { outputs } : {}),
    };
  } catch {
    await sink.abort().catch(() => {});
    const f = (failure ?? { where: 'the runner', error: new Error('unknown failure') }) as {
      where: string;
      error: unknown;
    };
    throw f.error instanceof StageFailedError
      ? f.error
      : new StageFailedError(stage.name, f.where, f.error);
  } finally {
    options.signal?.removeEventListener('abort', onCancel);
  }
}
