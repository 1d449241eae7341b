import { api, ApiError } from '../api.js';
import { formatDateTime } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';

/** Every experiment with its status, layer, traffic and variants. */
export function ExperimentsPage() {
  const { data, error } = usePolled(() => api.experiments(), [], 5000);
  return (
    <main className="page" data-testid="experiments-page">
      <h1>Experiments</h1>
      {error instanceof ApiError && error.status === 404 ? (
        <p className="muted">This server runs no experiments.</p>
      ) : (
        error && <p className="error">Could not load experiments: {error.message}</p>
      )}
      {data === null ? (
        !error && <p className="muted">Loading…</p>
      ) : data.experiments.length === 0 ? (
        <p className="muted">
          No experiments. Define one with <code>PUT /v1/experiments/NAME</code>.
        </p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Experiment</th>
              <th>Status</th>
              <th>Layer</th>
              <th className="right">Traffic</th>
              <th>Variants</th>
              <th>Started</th>
              <th>Stopped</th>
            </tr>
          </thead>
          <tbody>
            {data.experiments.map((e) => {
              const total = e.variants.reduce((s, v) => s + v.weight, 0);
              return (
                <tr key={e.name} data-testid={`experiment-row-${e.name}`}>
                  <td>
                    <Link to={`/experiments/${encodeURIComponent(e.name)}`} className="strong">
                      {e.name}
                    </Link>
                    {e.description && <div className="muted small">{e.description}</div>}
                  </td>
                  <td>
                    <span className={`badge state-${e.status}`} data-status={e.status}>
                      {e.status}
                    </span>
                  </td>
                  <td>{e.layer}</td>
                  <td className="right">{(e.traffic * 100).toFixed(e.traffic < 0.1 ? 2 : 0)}%</td>
                  <td>
                    {e.variants
                      .map((v) => `${v.name} ${Math.round((100 * v.weight) / total)}%`)
                      .join(' · ')}
                  </td>
                  <td>{e.startAt === null ? '—' : formatDateTime(e.startAt)}</td>
                  <td>{e.stopAt === null ? '—' : formatDateTime(e.stopAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </main>
  );
}
