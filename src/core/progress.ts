import { SingleBar, Presets } from 'cli-progress';

/** A progress display for long work; every method is a no-op when it is not shown. */
export interface Progress {
  /** Sets the number of completed steps and an optional short status text. */
  update(done: number, status?: string): void;
  stop(): void;
}

/**
 * Starts a progress bar on stderr. `enabled: 'auto'` (the default) shows it only when stderr is a
 * terminal, so logs, pipes and CI stay free of control characters.
 */
export function startProgress(
  label: string,
  total: number,
  enabled: boolean | 'auto' = 'auto',
): Progress {
  const show = enabled === 'auto' ? process.stderr.isTTY === true : enabled;
  if (!show) return { update() {}, stop() {} };
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {status} | {duration_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { status: '' });
  return {
    update(done, status = '') {
      bar.update(done, { status });
    },
    stop() {
      bar.stop();
    },
  };
}
