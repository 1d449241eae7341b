import { useEffect, useState } from 'react';
import { api, ApiError, type HeldVersion, servicePrefix } from '../api.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import {
  formatMetric,
  MetricsChart,
  metricNames,
  metricsOf,
  type VersionMetrics,
} from '../components/MetricsChart.js';
import { RecommendationExplorer } from '../components/RecommendationExplorer.js';
import { formatDateTime, formatRelative } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';

/** A string field of a version's meta, or null. */
function metaString(meta: Record<string, unknown> | undefined, key: string): string | null {
  const value = meta?.[key];
  return typeof value === 'string' ? value : null;
}

/**
 * Whether the signed-in caller may roll back (scope `admin`): false when `GET /v1/me` names
 * scopes without it, null when unknown (auth off, or no one signed in): then the server decides.
 */
function useMayAdmin(): boolean | null {
  const [may, setMay] = useState<boolean | null>(null);
  useEffect(() => {
    let live = true;
    api.me().then(
      (me) => live && setMay(me.scopes.includes('admin')),
      () => live && setMay(null),
    );
    return () => {
      live = false;
    };
  }, []);
  return may;
}

/**
 * One service: its published version (model kind, offline metrics), the metrics across the versions
 * its store holds with a rollback to any of them, and a "recommendations for user X" explorer.
 */
export function ServiceDetailPage({ name }: { name: string }) {
  const prefix = servicePrefix(name);
  const services = usePolled(() => api.services(), [], 10_000);
  const model = usePolled(() => api.serviceModel(prefix), [prefix], 10_000);
  const history = usePolled(() => api.serviceVersions(prefix), [prefix], 10_000);
  const mayAdmin = useMayAdmin();
  const [confirming, setConfirming] = useState<HeldVersion | null>(null);
  const [busy, setBusy] = useState(false);
  const [rollbackError, setRollbackError] = useState<string | null>(null);
  const [forbidden, setForbidden] = useState<string | null>(null);
  const [rolledBack, setRolledBack] = useState<string | null>(null);

  const known = services.data?.services.find((s) => s.name === name);
  const unknownService = services.data !== null && known === undefined;
  const notPublished = model.error instanceof ApiError && model.error.status === 503;
  const noHistory = history.error instanceof ApiError && history.error.status === 404;
  const historyForbidden = history.error instanceof ApiError && history.error.status === 403;
  const rollbackDenied =
    forbidden ?? (mayAdmin === false ? 'Rolling back needs the admin scope.' : null);

  const current = model.data;
  const currentMetrics = metricsOf(current?.meta);
  const kind =
    metaString(current?.meta, 'kind') ??
    (typeof current?.model?.kind === 'string' ? current.model.kind : null);
  const runId = metaString(current?.meta, 'runId');

  const versions = history.data?.versions ?? null;
  // Oldest on the left in the chart; the table keeps the API's order (newest first).
  const chartVersions: VersionMetrics[] =
    versions !== null
      ? [...versions]
          .reverse()
          .map((v) => ({ version: v.version, current: v.current, metrics: metricsOf(v.meta) }))
      : current !== null
        ? [{ version: current.version, current: true, metrics: currentMetrics }]
        : [];
  const historyMetrics = versions === null ? [] : metricNames(chartVersions);

  const rollback = async (target: HeldVersion) => {
    setBusy(true);
    setRollbackError(null);
    try {
      const done = await api.rollbackService(prefix, target.version);
      setRolledBack(done.to);
      setConfirming(null);
      history.reload();
      model.reload();
      services.reload();
    } catch (e) {
      setConfirming(null);
      if (e instanceof ApiError && (e.status === 403 || e.status === 401))
        setForbidden(`Rollback refused: ${e.message}`);
      else setRollbackError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  if (unknownService)
    return (
      <main className="page" data-testid="service-page">
        <nav className="crumbs">
          <Link to="/services">Services</Link> / <span>{name}</span>
        </nav>
        <h1>{name}</h1>
        <p className="error" data-testid="service-unknown">
          No service "{name}" is visible to you. <Link to="/services">See the services</Link>
        </p>
      </main>
    );

  return (
    <main className="page" data-testid="service-page">
      <nav className="crumbs">
        <Link to="/services">Services</Link> / <span>{name}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>{name}</h1>
          <p className="muted small">
            Routes under <code>{prefix}</code>
          </p>
        </div>
      </header>

      <h2>Published version</h2>
      {notPublished ? (
        <p className="muted">Nothing is published for this service yet.</p>
      ) : model.error !== null && current === null ? (
        <p className="error">Could not load the published model: {model.error.message}</p>
      ) : current === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <section className="card" data-testid="published-version">
          <div className="quality">
            <div>
              <span className="muted small">Version</span>
              <code className="strong" data-testid="published-version-name">
                {current.version}
              </code>
            </div>
            <div>
              <span className="muted small">Published</span>
              <strong title={formatDateTime(current.publishedAt)}>
                {formatRelative(current.publishedAt)}
              </strong>
            </div>
            <div>
              <span className="muted small">Model kind</span>
              <strong data-testid="published-kind">{kind ?? '—'}</strong>
            </div>
            {metaString(current.meta, 'modelId') !== null && (
              <div>
                <span className="muted small">Model</span>
                <code>{metaString(current.meta, 'modelId')}</code>
              </div>
            )}
            {runId !== null && (
              <div>
                <span className="muted small">Run</span>
                <Link to={`/runs/${encodeURIComponent(runId)}`}>
                  <code>{runId}</code>
                </Link>
              </div>
            )}
          </div>
          <h3 className="metrics-head">Offline metrics</h3>
          {Object.keys(currentMetrics).length === 0 ? (
            <p className="muted small">No offline metrics were published with this version.</p>
          ) : (
            <table className="table metrics-table" data-testid="published-metrics">
              <tbody>
                {Object.entries(currentMetrics).map(([metric, value]) => (
                  <tr key={metric} data-testid={`metric-row-${metric}`}>
                    <td>{metric}</td>
                    <td className="right mono">{formatMetric(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}

      {chartVersions.length > 0 && metricNames(chartVersions).length > 0 && (
        <>
          <h2>{versions === null ? 'Metrics' : 'Metrics across held versions'}</h2>
          <section className="card" data-testid="metrics-chart">
            <MetricsChart versions={chartVersions} />
          </section>
        </>
      )}

      <h2>Version history</h2>
      {rolledBack !== null && (
        <p className="notice" data-testid="rollback-done">
          Rolled back: readers now see <code>{rolledBack}</code>.
        </p>
      )}
      {rollbackError !== null && (
        <p className="error" data-testid="rollback-error">
          Rollback failed: {rollbackError}
        </p>
      )}
      {forbidden !== null && (
        <p className="warning" data-testid="rollback-forbidden">
          {forbidden}
        </p>
      )}
      {noHistory ? (
        <p className="muted" data-testid="history-unavailable">
          History not available: this server does not list a service's versions.
        </p>
      ) : historyForbidden ? (
        <p className="muted" data-testid="history-unavailable">
          History not available to you ({history.error?.message}).
        </p>
      ) : history.error !== null && versions === null ? (
        notPublished ? (
          <p className="muted">No versions yet.</p>
        ) : (
          <p className="error">Could not load the version history: {history.error.message}</p>
        )
      ) : versions === null ? (
        <p className="muted">Loading…</p>
      ) : versions.length === 0 ? (
        <p className="muted">No versions yet.</p>
      ) : (
        <table className="table" data-testid="version-history">
          <thead>
            <tr>
              <th>Version</th>
              <th>Published</th>
              <th>Kind</th>
              {historyMetrics.map((m) => (
                <th key={m} className="right">
                  {m}
                </th>
              ))}
              <th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => {
              const metrics = metricsOf(v.meta);
              return (
                <tr
                  key={v.version}
                  data-testid={`version-row-${v.version}`}
                  className={v.current ? 'selected' : undefined}
                >
                  <td>
                    <code>{v.version}</code>
                  </td>
                  <td className="nowrap" title={formatDateTime(v.publishedAt)}>
                    {formatRelative(v.publishedAt)}
                  </td>
                  <td>{metaString(v.meta, 'kind') ?? <span className="muted">—</span>}</td>
                  {historyMetrics.map((m) => (
                    <td key={m} className="right mono">
                      {formatMetric(metrics[m])}
                    </td>
                  ))}
                  <td className="right">
                    {v.current ? (
                      <span className="badge state-succeeded">current</span>
                    ) : (
                      <button
                        type="button"
                        className="button danger"
                        disabled={rollbackDenied !== null || busy}
                        title={rollbackDenied ?? `make ${v.version} current again`}
                        onClick={() => setConfirming(v)}
                      >
                        Rollback
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {versions !== null && versions.length > 1 && forbidden === null && mayAdmin === false && (
        <p className="muted small" data-testid="rollback-needs-admin">
          Rolling back needs the admin scope.
        </p>
      )}
      {confirming !== null && (
        <ConfirmDialog
          title={`Roll ${name} back?`}
          confirmLabel="Roll back"
          danger
          busy={busy}
          onCancel={() => setConfirming(null)}
          onConfirm={() => void rollback(confirming)}
        >
          <p>
            Readers of <strong>{name}</strong> will see version <code>{confirming.version}</code>{' '}
            (published {formatDateTime(confirming.publishedAt)}) at once, instead of{' '}
            <code>{versions?.find((v) => v.current)?.version ?? current?.version ?? '—'}</code>.
          </p>
          <p className="muted small">The next publish replaces it as usual.</p>
        </ConfirmDialog>
      )}

      <h2>Recommendations for a user</h2>
      {notPublished ? (
        <p className="muted">Nothing is published yet, so there is nothing to recommend.</p>
      ) : (
        <RecommendationExplorer service={name} prefix={prefix} />
      )}
    </main>
  );
}
