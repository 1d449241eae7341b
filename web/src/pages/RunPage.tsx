import { useState } from 'react';
import { api } from '../api.js';
import { Dag } from '../components/Dag.js';
import { Gantt } from '../components/Gantt.js';
import { LogViewer } from '../components/LogViewer.js';
import { StatusBadge } from '../components/StatusBadge.js';
import { elapsed, formatDateTime, formatDuration, formatLogicalDate } from '../format.js';
import { useNow } from '../hooks.js';
import { Link } from '../router.js';
import { useRunStream } from '../useRunStream.js';

/** One run: graph, timeline, tasks and their logs, updated live while it runs. */
export function RunPage({ id }: { id: string }) {
  const [generation, setGeneration] = useState(0);
  const { detail, error } = useRunStream(id, generation);
  const [selected, setSelected] = useState<string | null>(null);
  const [retrying, setRetrying] = useState(false);
  const [retryError, setRetryError] = useState<string | null>(null);
  const now = useNow(detail?.run.status === 'running', 500);

  if (detail === null) {
    return (
      <main className="page">
        {error ? <p className="error">{error}</p> : <p className="muted">Loading…</p>}
      </main>
    );
  }
  const { run, tasks, attempts } = detail;
  const definition = run.definition;
  const stateOf = new Map(tasks.map((t) => [t.task, t]));
  const selectedTask = selected === null ? undefined : stateOf.get(selected);

  const retry = async () => {
    setRetrying(true);
    setRetryError(null);
    try {
      await api.retry(run.id);
      setGeneration((g) => g + 1);
    } catch (e) {
      setRetryError((e as Error).message);
    } finally {
      setRetrying(false);
    }
  };

  return (
    <main className="page" data-testid="run-page" data-run-status={run.status}>
      <nav className="crumbs">
        <Link to="/">Workflows</Link> /{' '}
        <Link to={`/workflows/${encodeURIComponent(run.workflow)}`}>{run.workflow}</Link> /{' '}
        <span className="mono">{run.id}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>
            <span className="mono">{run.id}</span>{' '}
            <StatusBadge status={run.status} testId="run-status" />
            {run.status === 'running' && <span className="live-dot" title="live" />}
          </h1>
          <p className="muted small">
            logical date {formatLogicalDate(run.logicalDate)} · {run.trigger} · started{' '}
            {formatDateTime(run.createdAt)} · duration{' '}
            {formatDuration(elapsed(run.createdAt, run.finishedAt, now) ?? NaN)}
            {Object.keys(run.params).length > 0 && (
              <>
                {' '}
                · params{' '}
                <span className="mono">
                  {Object.entries(run.params)
                    .map(([k, v]) => `${k}=${String(v)}`)
                    .join(' ')}
                </span>
              </>
            )}
          </p>
        </div>
        {run.status === 'failed' && (
          <button
            type="button"
            className="button danger"
            data-testid="retry-button"
            disabled={retrying}
            onClick={() => void retry()}
          >
            {retrying ? 'Retrying…' : 'Retry failed tasks'}
          </button>
        )}
      </header>
      {retryError && <p className="error">{retryError}</p>}
      {run.error && (
        <p className="error" data-testid="run-error">
          {run.error}
        </p>
      )}

      <section className="card">
        <Dag
          tasks={definition.tasks.map((t) => ({
            name: t.name,
            kind: t.kind,
            needs: t.needs,
            state: stateOf.get(t.name)?.status ?? 'pending',
          }))}
          selected={selected}
          onSelect={setSelected}
        />
      </section>

      <section className="card">
        <h3>Timeline</h3>
        <Gantt
          tasks={definition.tasks.map((t) => t.name)}
          attempts={attempts}
          now={now}
          onSelect={setSelected}
        />
      </section>

      <section className="card">
        <h3>Tasks</h3>
        <table className="table" data-testid="task-table">
          <thead>
            <tr>
              <th>Task</th>
              <th>Kind</th>
              <th>State</th>
              <th>Attempts</th>
              <th>Duration</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {definition.tasks.map((t) => {
              const state = stateOf.get(t.name);
              return (
                <tr
                  key={t.name}
                  data-testid={`task-row-${t.name}`}
                  className={`clickable${selected === t.name ? ' selected' : ''}`}
                  onClick={() => setSelected(t.name)}
                >
                  <td className="mono">{t.name}</td>
                  <td>{t.kind}</td>
                  <td>
                    <StatusBadge
                      status={state?.status ?? 'pending'}
                      testId={`task-state-${t.name}`}
                    />
                  </td>
                  <td data-testid={`task-attempts-${t.name}`}>{state?.attempt ?? 0}</td>
                  <td>
                    {formatDuration(
                      elapsed(state?.startedAt ?? null, state?.finishedAt ?? null, now) ?? NaN,
                    )}
                  </td>
                  <td className="error-cell" title={state?.error ?? ''}>
                    {state?.error ?? ''}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>

      {selected !== null && (
        <LogViewer
          key={selected}
          runId={run.id}
          task={selected}
          attempts={selectedTask?.attempt ?? 0}
          revision={`${selectedTask?.status}:${selectedTask?.attempt}:${selectedTask?.finishedAt}`}
          live={
            run.status === 'running' &&
            selectedTask?.status !== 'succeeded' &&
            selectedTask?.status !== 'failed' &&
            selectedTask?.status !== 'upstream_failed'
          }
        />
      )}
    </main>
  );
}
