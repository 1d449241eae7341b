import type { AttemptStatus, RunStatus, TaskState } from '../types.js';

/** A coloured pill for a run, task or attempt status (colours in styles.css, by state). */
export function StatusBadge({
  status,
  testId,
}: {
  status: RunStatus | TaskState | AttemptStatus;
  testId?: string;
}) {
  return (
    <span className={`badge state-${status}`} data-testid={testId} data-status={status}>
      {status.replace('_', ' ')}
    </span>
  );
}
