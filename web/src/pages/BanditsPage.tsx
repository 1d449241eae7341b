import { api, ApiError } from '../api.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';

/** Every bandit, each linking to its report. */
export function BanditsPage() {
  const { data, error } = usePolled(() => api.bandits(), [], 5000);
  return (
    <main className="page" data-testid="bandits-page">
      <h1>Bandits</h1>
      {error instanceof ApiError && error.status === 404 ? (
        <p className="muted">This server serves no bandits.</p>
      ) : (
        error && <p className="error">Could not load bandits: {error.message}</p>
      )}
      {data === null ? (
        !error && <p className="muted">Loading…</p>
      ) : data.bandits.length === 0 ? (
        <p className="muted">
          No bandits. Define one with <code>PUT /v1/bandits/NAME</code>.
        </p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Bandit</th>
            </tr>
          </thead>
          <tbody>
            {data.bandits.map((name) => (
              <tr key={name} data-testid={`bandit-row-${name}`}>
                <td>
                  <Link to={`/bandits/${encodeURIComponent(name)}`} className="strong">
                    {name}
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
