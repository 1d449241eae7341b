import { KibanError } from '../core/errors.js';
import { startProgress } from '../core/progress.js';
import type { FitOptions, FitReport } from './recommender.js';

/**
 * Runs `iterations` steps of training with the things every model wants around them: a
 * progress bar, the per-iteration callback, timing and cancellation between steps.
 *
 * @param step - does iteration `it` (0-based) and returns its loss, if it computes one.
 */
export async function runIterations(
  label: string,
  iterations: number,
  options: FitOptions,
  step: (it: number) => number | undefined | Promise<number | undefined>,
): Promise<FitReport> {
  const progress = startProgress(label, iterations, options.progress ?? 'auto');
  const started = performance.now();
  let loss: number | undefined;
  try {
    for (let it = 0; it < iterations; it++) {
      if (options.signal?.aborted)
        throw new KibanError('INTERNAL', `${label}: training aborted`, {
          cause: options.signal.reason,
        });
      const t0 = performance.now();
      loss = await step(it);
      const seconds = (performance.now() - t0) / 1000;
      progress.update(it + 1, loss === undefined ? '' : `loss ${loss.toPrecision(5)}`);
      options.onIteration?.({
        iteration: it + 1,
        iterations,
        ...(loss === undefined ? {} : { loss }),
        seconds,
      });
    }
  } finally {
    progress.stop();
  }
  return {
    seconds: (performance.now() - started) / 1000,
    iterations,
    ...(loss === undefined ? {} : { loss }),
  };
}
