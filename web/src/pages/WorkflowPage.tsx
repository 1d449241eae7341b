import { useState } from 'react';
import { api } from '../api.js';
import { Dag } from '../components/Dag.js';
import { StatusBadge } from '../components/StatusBadge.js';
import {
  elapsed,
  formatDateTime,
  formatDuration,
  formatLogicalDate,
  formatRelative,
} from '../format.js';
import { useNow, usePolled } from '../hooks.js';
import { Link, navigate } from '../router.js';

/** One workflow: its graph and its runs, newest first. */
export function WorkflowPage({ name }: { name: string }) {
  const { data, error } = usePolled(() => api.workflow(name), [name], 3000);
  const running = data?.runs.some((r) => r.status === 'running') ?? false;
  const now = useNow(running);
  const [startError, setStartError] = useState<string | null>(null);

  const runNow = async () => {
    try {
      const { runId } = await api.startRun(name);
      navigate(`/runs/${encodeURIComponent(runId)}`);
    } catch (e) {
      setStartError((e as Error).message);
    }
  };

  if (data === null) {
    return (
      <main className="page">
        {error ? <p className="error">{error.message}</p> : <p className="muted">Loading…</p>}
      </main>
    );
  }
  const { workflow, runs, nextRunAt } = data;
  return (
    <main className="page" data-testid="workflow-page">
      <nav className="crumbs">
        <Link to="/">Workflows</Link> / <span>{workflow.name}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>{workflow.name}</h1>
          {workflow.description && <p className="muted">{workflow.description}</p>}
          <p className="muted small">
            {workflow.schedule ? (
              <>
                <code>{workflow.schedule.cron}</code> ({workflow.schedule.timezone}) · next{' '}
                {formatRelative(nextRunAt)}
              </>
            ) : (
              'not scheduled'
            )}{' '}
            · <span className="mono">{workflow.source}</span>
          </p>
        </div>
        <button
          type="button"
          className="button primary"
          data-testid="run-now"
          onClick={() => void runNow()}
        >
          Run now
        </button>
      </header>
      {startError && <p className="error">{startError}</p>}
      <section className="card">
        <Dag tasks={workflow.tasks.map((t) => ({ name: t.name, kind: t.kind, needs: t.needs }))} />
      </section>
      <h2>Runs</h2>
      {runs.length === 0 ? (
        <p className="muted">No runs yet.</p>
      ) : (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th>Run</th>
              <th>Status</th>
              <th>Logical date</th>
              <th>Trigger</th>
              <th>Started</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr
                key={r.id}
                data-testid={`run-row-${r.id}`}
                className="clickable"
                onClick={() => navigate(`/runs/${encodeURIComponent(r.id)}`)}
              >
                <td>
                  <Link to={`/runs/${encodeURIComponent(r.id)}`} className="mono">
                    {r.id}
                  </Link>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{formatLogicalDate(r.logicalDate)}</td>
                <td>{r.trigger}</td>
                <td title={r.createdAt}>{formatDateTime(r.createdAt)}</td>
                <td>{formatDuration(elapsed(r.createdAt, r.finishedAt, now) ?? NaN)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
