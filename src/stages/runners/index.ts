import { InvalidArgumentError } from '../../core/errors.js';
import type { StageRunner } from '../runner.js';
import { BullmqStageRunner, type BullmqStageRunnerOptions } from './bullmq-runner.js';
import { InlineStageRunner } from './inline-runner.js';
import { ThreadStageRunner } from './thread-runner.js';
import { ZmqStageRunner } from './zmq-runner.js';

/**
 * The runners by name: `inline` (one thread), `threads` (default), `zeromq` (processes),
 * `bullmq` (`kiban stage bullmq-worker` processes on any host, through Redis).
 */
export const STAGE_RUNNERS = ['inline', 'threads', 'zeromq', 'bullmq'] as const;
export type StageRunnerName = (typeof STAGE_RUNNERS)[number];

/** What runners beyond the defaults need; only `bullmq` needs anything (Redis, an artifact store). */
export interface StageRunnerSettings {
  bullmq?: BullmqStageRunnerOptions;
}

/**
 * The runner of that name, with its defaults (the ZeroMQ runner spawns local processes).
 *
 * @throws InvalidArgumentError naming `field` for an unknown name, or `redis` when `bullmq` is
 *   asked for without its settings.
 */
export function createStageRunner(
  name: string,
  field = 'runner',
  settings: StageRunnerSettings = {},
): StageRunner {
  if (name === 'inline') return new InlineStageRunner();
  if (name === 'threads') return new ThreadStageRunner();
  if (name === 'zeromq') return new ZmqStageRunner();
  if (name === 'bullmq') {
    if (settings.bullmq === undefined)
      throw new InvalidArgumentError(
        'redis',
        'the bullmq stage runner needs a Redis URL and an artifact store (--redis, --artifacts)',
      );
    return new BullmqStageRunner(settings.bullmq);
  }
  throw new InvalidArgumentError(
    field,
    `unknown stage runner "${name}"; use ${STAGE_RUNNERS.join(', ')}`,
  );
}
