import { api, ApiError, type ServiceSummary } from '../api.js';
import { formatMetric, metricsOf } from '../components/MetricsChart.js';
import { formatDateTime, formatRelative } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';

/** The published model's kind and first few metrics, for one row of the services table. */
function ModelCells({ service }: { service: ServiceSummary }) {
  const { data, error } = usePolled(
    () => (service.version === null ? Promise.resolve(null) : api.serviceModel(service.prefix)),
    [service.prefix, service.version],
  );
  if (service.version === null)
    return (
      <>
        <td className="muted">—</td>
        <td className="muted">—</td>
      </>
    );
  if (data === null)
    return (
      <>
        <td className="muted">{error === null ? '…' : '?'}</td>
        <td className="muted small">{error?.message}</td>
      </>
    );
  const kind = typeof data.meta.kind === 'string' ? data.meta.kind : data.model?.kind;
  const metrics = Object.entries(metricsOf(data.meta)).slice(0, 3);
  return (
    <>
      <td data-testid={`service-kind-${service.name}`}>
        {typeof kind === 'string' ? kind : <span className="muted">—</span>}
      </td>
      <td className="small" data-testid={`service-metrics-${service.name}`}>
        {metrics.length === 0 ? (
          <span className="muted">—</span>
        ) : (
          metrics.map(([name, value]) => (
            <span key={name} className="metric-chip">
              {name} <strong>{formatMetric(value)}</strong>
            </span>
          ))
        )}
      </td>
    </>
  );
}

/** Every service the caller may use: its prefix, published version, when, and the model behind it. */
export function ServicesPage() {
  const { data, error } = usePolled(() => api.services(), [], 10_000);
  return (
    <main className="page" data-testid="services-page">
      <h1>Services</h1>
      <p className="muted small">
        Each service has its own published versions, lists, interactions and models, served under
        its prefix.
      </p>
      {error instanceof ApiError && error.status === 404 ? (
        <p className="muted">This server does not list services.</p>
      ) : error instanceof ApiError && (error.status === 401 || error.status === 403) ? (
        <p className="error">Listing services needs the scope recs:read or models:read.</p>
      ) : (
        error && <p className="error">Could not load the services: {error.message}</p>
      )}
      {data === null ? (
        !error && <p className="muted">Loading…</p>
      ) : data.services.length === 0 ? (
        <p className="muted">No services are visible to you.</p>
      ) : (
        <table className="table" data-testid="services-table">
          <thead>
            <tr>
              <th>Service</th>
              <th>Prefix</th>
              <th>Published version</th>
              <th>Published</th>
              <th>Model</th>
              <th>Offline metrics</th>
            </tr>
          </thead>
          <tbody>
            {data.services.map((s) => (
              <tr key={s.name} data-testid={`service-row-${s.name}`}>
                <td>
                  <Link to={`/services/${encodeURIComponent(s.name)}`} className="strong">
                    {s.name}
                  </Link>
                </td>
                <td>
                  <code>{s.prefix}</code>
                </td>
                <td data-testid={`service-version-${s.name}`}>
                  {s.version === null ? (
                    <span className="muted">nothing published</span>
                  ) : (
                    <code>{s.version}</code>
                  )}
                </td>
                <td className="nowrap" title={formatDateTime(s.publishedAt)}>
                  {formatRelative(s.publishedAt)}
                </td>
                <ModelCells service={s} />
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
