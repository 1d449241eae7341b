import { Channel } from '../channel.js';
import { LocalCollectives } from '../collectives-local.js';
import { coordinate } from '../coordinator.js';
import { runMainRole, runPreprocessRole, type RoleFigures } from '../roles.js';
import type { RunStageOptions, StageResult, StageRunner } from '../runner.js';
import type { StageRef } from '../stage.js';

/** Batches queued per main worker before preprocess workers wait. */
const QUEUE_BATCHES = 8;

/**
 * Runs every worker of a stage in this thread, as concurrent async tasks connected by bounded
 * queues: `count` main ranks with in-process collectives and `numPreprocessors` preprocess
 * workers. No parallelism, but the same semantics as the other runners, for tests and
 * debugging (breakpoints and stack traces work).
 */
export class InlineStageRunner implements StageRunner {
  readonly name = 'inline';

  run(ref: StageRef, options: RunStageOptions): Promise<StageResult> {
    return coordinate(ref, options, this.name, async (c) => {
      const { count, numPreprocessors, batchSize, params } = c.options;
      const inputs = Array.from(
        { length: count },
        () => new Channel<unknown[]>({ capacity: QUEUE_BATCHES, producers: numPreprocessors }),
      );
      const collectives = new LocalCollectives(count);
      c.signal.addEventListener(
        'abort',
        () => {
          inputs.forEach((q) => q.fail(c.signal.reason));
          collectives.fail(c.signal.reason);
        },
        { once: true },
      );
      const total: RoleFigures = { read: 0, preprocessed: 0, written: 0 };
      const pre = Array.from({ length: numPreprocessors }, async (_, rank) => {
        try {
          const f = await runPreprocessRole({
            stage: c.stage,
            rank,
            size: numPreprocessors,
            params,
            source: c.options.source,
            nextPartition: c.nextPartition,
            mains: count,
            send: (main, batch) => inputs[main].put(batch),
            batchSize,
            signal: c.signal,
            log: c.log,
            ...(c.openServingSource === undefined
              ? {}
              : { openServingSource: c.openServingSource }),
          });
          total.read += f.read;
          total.preprocessed += f.preprocessed;
        } catch (error) {
          c.fail(`preprocess rank ${rank}`, error);
        } finally {
          inputs.forEach((q) => q.close());
        }
      });
      const main = Array.from({ length: count }, async (_, rank) => {
        try {
          await runMainRole({
            stage: c.stage,
            rank,
            size: count,
            params,
            input: inputs[rank],
            collectives: collectives.forRank(rank),
            emit: c.write,
            batchSize,
            signal: c.signal,
            log: c.log,
          });
        } catch (error) {
          c.fail(`main rank ${rank}`, error);
        }
      });
      await Promise.all([...pre, ...main]);
      return total;
    });
  }
}
