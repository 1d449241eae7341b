import { api, ApiError } from '../api.js';
import { formatDateTime } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';
import type { FeatureView } from '../types.js';

/** A duration in seconds, coarsely: `45 s`, `12 min`, `5 h`, `3.2 d`, `8.4 y`. */
export function formatAge(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  if (seconds < 365 * 86_400)
    return `${(seconds / 86_400).toFixed(seconds < 10 * 86_400 ? 1 : 0)} d`;
  return `${(seconds / (365 * 86_400)).toFixed(1)} y`;
}

/** A TTL in seconds: whole days, hours, minutes or seconds; 0 is `never`. */
export function formatTtl(seconds: number): string {
  if (seconds === 0) return 'never';
  for (const [unit, s] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
  ] as const)
    if (seconds % s === 0) return `${seconds / s} ${unit}`;
  return `${seconds} s`;
}

/** How fresh a view's online values are: the newest materialised event time's age, red past the TTL. */
export function Freshness({ view }: { view: FeatureView }) {
  const f = view.freshness;
  if (f === null) return <span className="muted">never materialised</span>;
  if (f.newestEventTime === null || f.ageSeconds === null)
    return <span className="muted">materialised, no rows</span>;
  return (
    <span
      className={f.stale ? 'freshness stale' : 'freshness'}
      data-stale={f.stale}
      title={`newest event ${formatDateTime(f.newestEventTime)}; materialised until ${formatDateTime(f.materializedUntil)} (marked ${formatDateTime(f.markedAt)})`}
    >
      {formatAge(f.ageSeconds)} old
      {f.stale && ' · older than TTL'}
    </span>
  );
}

/** The entities a group of views is keyed by, e.g. `user` or `user × movie`. */
function entityGroup(view: FeatureView): string {
  return view.entities.map((e) => e.name).join(' × ');
}

/** Every feature view of the served repository, grouped by entity, with owner, TTL and freshness. */
export function FeaturesPage() {
  const { data, error } = usePolled(() => api.featureViews(), [], 10_000);
  const groups = new Map<string, FeatureView[]>();
  for (const view of data?.views ?? []) {
    const key = entityGroup(view);
    groups.set(key, [...(groups.get(key) ?? []), view]);
  }
  return (
    <main className="page" data-testid="features-page">
      <h1>Features</h1>
      {error instanceof ApiError && error.status === 404 ? (
        <p className="muted">
          This server serves no features (set <code>features.repo</code>).
        </p>
      ) : (
        error && <p className="error">Could not load the feature views: {error.message}</p>
      )}
      {data === null ? (
        !error && <p className="muted">Loading…</p>
      ) : data.views.length === 0 ? (
        <p className="muted">The feature repository defines no views.</p>
      ) : (
        <>
          {!data.registry && (
            <p className="muted small">No registry connected: versions are not shown.</p>
          )}
          {[...groups].map(([group, views]) => (
            <section key={group} data-testid={`entity-group-${group}`}>
              <h2>
                {group}{' '}
                <span className="muted small">
                  keyed by {views[0]!.entities.map((e) => `${e.joinKey} (${e.type})`).join(', ')}
                </span>
              </h2>
              <table className="table">
                <thead>
                  <tr>
                    <th>View</th>
                    <th>Owner</th>
                    <th className="right">Features</th>
                    <th className="right">TTL</th>
                    <th>Freshness</th>
                    <th>Services</th>
                    <th className="right">Version</th>
                  </tr>
                </thead>
                <tbody>
                  {views.map((v) => (
                    <tr key={v.name} data-testid={`view-row-${v.name}`}>
                      <td>
                        <Link to={`/features/${encodeURIComponent(v.name)}`} className="strong">
                          {v.name}
                        </Link>
                        {v.description && <div className="muted small">{v.description}</div>}
                      </td>
                      <td>{v.owner ?? <span className="muted">—</span>}</td>
                      <td className="right">{v.features.length}</td>
                      <td className="right nowrap">{formatTtl(v.ttlSeconds)}</td>
                      <td data-testid={`freshness-${v.name}`}>
                        <Freshness view={v} />
                      </td>
                      <td>{v.services.length === 0 ? '—' : v.services.join(', ')}</td>
                      <td className="right">
                        {v.registry === null ? (
                          <span className="muted">—</span>
                        ) : (
                          <span title={`applied ${formatDateTime(v.registry.appliedAt)}`}>
                            v{v.registry.version}
                            {!v.registry.current && ' (apply pending)'}
                          </span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          ))}
        </>
      )}
    </main>
  );
}
