import { useState } from 'react';
import { api, ApiError } from '../api.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { formatDateTime, formatRelative } from '../format.js';
import { useNow, usePolled } from '../hooks.js';
import { Link, navigate } from '../router.js';

/** Every workflow: schedule, next and last run, and a button to run it now. */
export function WorkflowsPage() {
  const { data, error } = usePolled(() => api.workflows(), [], 5000);
  const now = useNow(true, 5000);
  const [starting, setStarting] = useState<string | null>(null);
  const [startError, setStartError] = useState<string | null>(null);

  const runNow = async (name: string) => {
    setStarting(name);
    setStartError(null);
    try {
      const { runId } = await api.startRun(name);
      navigate(`/runs/${encodeURIComponent(runId)}`);
    } catch (e) {
      setStartError(`${name}: ${(e as Error).message}`);
      setStarting(null);
    }
  };

  return (
    <main className="page" data-testid="workflows-page">
      <h1>Workflows</h1>
      {error instanceof ApiError && error.status === 404 ? (
        <p className="muted">
          This server runs without workflows: start it with <code>kiban serve --workflows DIR</code>
          .
        </p>
      ) : (
        error && <p className="error">Could not load workflows: {error.message}</p>
      )}
      {startError && (
        <p className="error" data-testid="start-error">
          {startError}
        </p>
      )}
      {data?.invalid && data.invalid.length > 0 && (
        <table className="table" data-testid="invalid-workflows">
          <thead>
            <tr>
              <th>Invalid workflow file</th>
              <th>Problems (fix the file; it is not run until then)</th>
            </tr>
          </thead>
          <tbody>
            {data.invalid.map((f) => (
              <tr key={f.file} data-testid={`invalid-workflow-${f.file}`}>
                <td>
                  <code>{f.file}</code>
                </td>
                <td>
                  {f.problems.map((p) => (
                    <div key={`${p.line}:${p.path ?? ''}:${p.message}`} className="error small">
                      line {p.line}: {p.path ? `${p.path}: ` : ''}
                      {p.message}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {data === null ? (
        !error && <p className="muted">Loading…</p>
      ) : data.workflows.length === 0 ? (
        <p className="muted">
          No workflows. Start the server with <code>kiban serve --workflows DIR</code>.
        </p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Workflow</th>
              <th>Schedule</th>
              <th>Next run</th>
              <th>Last run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.workflows.map((w) => (
              <tr key={w.name} data-testid={`workflow-row-${w.name}`}>
                <td>
                  <Link to={`/workflows/${encodeURIComponent(w.name)}`} className="strong">
                    {w.name}
                  </Link>
                  {w.description && <div className="muted small">{w.description}</div>}
                  <div className="muted small">{w.tasks.length} tasks</div>
                </td>
                <td>
                  {w.schedule ? (
                    <>
                      <code>{w.schedule.cron}</code>
                      <div className="muted small">{w.schedule.timezone}</div>
                    </>
                  ) : (
                    <span className="muted">manual</span>
                  )}
                </td>
                <td title={w.nextRunAt ?? ''}>
                  {w.nextRunAt ? (
                    formatRelative(w.nextRunAt, now)
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td>
                  {w.lastRun ? (
                    <Link to={`/runs/${encodeURIComponent(w.lastRun.id)}`} className="plain">
                      <StatusBadge status={w.lastRun.status} testId={`last-run-${w.name}`} />{' '}
                      <span className="muted small" title={formatDateTime(w.lastRun.createdAt)}>
                        {formatRelative(w.lastRun.createdAt, now)}
                      </span>
                    </Link>
                  ) : (
                    <span className="muted">never</span>
                  )}
                </td>
                <td className="right">
                  <button
                    type="button"
                    className="button primary"
                    data-testid={`run-now-${w.name}`}
                    disabled={starting !== null}
                    onClick={() => void runNow(w.name)}
                  >
                    {starting === w.name ? 'Starting…' : 'Run now'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
