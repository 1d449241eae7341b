import { InvalidArgumentError } from '../../core/errors.js';
import type { StageRunner } from '../runner.js';
import { InlineStageRunner } from './inline-runner.js';
import { ThreadStageRunner } from './thread-runner.js';
import { ZmqStageRunner } from './zmq-runner.js';

/** The runners by name: `inline` (one thread), `threads` (default), `zeromq` (processes). */
export const STAGE_RUNNERS = ['inline', 'threads', 'zeromq'] as const;
export type StageRunnerName = (typeof STAGE_RUNNERS)[number];

/** The runner of that name, with its defaults (the ZeroMQ runner spawns local processes). */
export function createStageRunner(name: string, field = 'runner'): StageRunner {
  if (name === 'inline') return new InlineStageRunner();
  if (name === 'threads') return new ThreadStageRunner();
  if (name === 'zeromq') return new ZmqStageRunner();
  throw new InvalidArgumentError(
    field,
    `unknown stage runner "${name}"; use ${STAGE_RUNNERS.join(', ')}`,
  );
}
