import { formatDuration } from '../format.js';
import type { TaskAttempt } from '../types.js';

/**
 * Attempts on a shared time axis, one row per task (in definition order), so waits, retries and
 * the critical path show at a glance. Bars still running extend to `now`.
 */
export function Gantt({
  tasks,
  attempts,
  now,
  onSelect,
}: {
  tasks: string[];
  attempts: TaskAttempt[];
  now: number;
  onSelect?: (task: string) => void;
}) {
  if (attempts.length === 0) return <p className="muted">No attempts yet.</p>;
  const end = (a: TaskAttempt) => (a.finishedAt === null ? now : Date.parse(a.finishedAt));
  const t0 = Math.min(...attempts.map((a) => Date.parse(a.startedAt)));
  const t1 = Math.max(t0 + 1000, ...attempts.map(end));
  const span = t1 - t0;
  const pct = (t: number) => ((t - t0) / span) * 100;
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div className="gantt" data-testid="gantt">
      <div className="gantt-row gantt-axis">
        <div className="gantt-label" />
        <div className="gantt-track">
          {ticks.map((f) => (
            <span key={f} className="gantt-tick" style={{ left: `${f * 100}%` }}>
              {formatDuration(f * span)}
            </span>
          ))}
        </div>
      </div>
      {tasks.map((task) => (
        <div key={task} className="gantt-row">
          <div className="gantt-label" title={task}>
            {task}
          </div>
          <div className="gantt-track">
            {ticks.map((f) => (
              <span key={f} className="gantt-grid" style={{ left: `${f * 100}%` }} />
            ))}
            {attempts
              .filter((a) => a.task === task)
              .map((a) => {
                const start = Date.parse(a.startedAt);
                return (
                  <button
                    type="button"
                    key={a.attempt}
                    className={`gantt-bar state-${a.status}`}
                    data-testid={`gantt-bar-${task}-${a.attempt}`}
                    style={{
                      left: `${pct(start)}%`,
                      width: `max(3px, ${pct(end(a)) - pct(start)}%)`,
                    }}
                    title={`${task} attempt ${a.attempt}: ${a.status}, ${formatDuration(end(a) - start)}${a.error ? `\n${a.error}` : ''}`}
                    onClick={onSelect ? () => onSelect(task) : undefined}
                  />
                );
              })}
          </div>
        </div>
      ))}
    </div>
  );
}
