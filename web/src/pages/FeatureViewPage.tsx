import { useState, type FormEvent } from 'react';
import { api } from '../api.js';
import { formatDateTime } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';
import type { FeatureViewDetail } from '../types.js';
import { Freshness, formatTtl } from './FeaturesPage.js';

type SampleRow = FeatureViewDetail['sample']['rows'][number];

/** One sampled value: the value when present, else its status (missing/expired) styled apart. */
function ValueCell({ row, i }: { row: SampleRow; i: number }) {
  const status = row.statuses[i]!;
  const at = row.eventTimes[i];
  if (status !== 'present')
    return (
      <td
        className={`right value-${status}`}
        data-status={status}
        title={at ? `event time ${formatDateTime(at)}` : 'no row in the online store'}
      >
        {status}
      </td>
    );
  const value = row.values[i];
  return (
    <td className="right" data-status={status}>
      {value === null ? <span className="muted">null</span> : String(value)}
    </td>
  );
}

/** One feature view: its definition, source, services, freshness and a sample of online values. */
export function FeatureViewPage({ name }: { name: string }) {
  const [keys, setKeys] = useState('');
  const [asked, setAsked] = useState('');
  const { data, error } = usePolled(() => api.featureView(name, asked), [name, asked], 10_000);
  const view = data?.view;
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    setAsked(keys.trim());
  };
  return (
    <main className="page" data-testid="feature-view-page">
      <nav className="crumbs">
        <Link to="/features">Features</Link> / <span>{name}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>{name}</h1>
          {view?.description && <p className="muted">{view.description}</p>}
        </div>
      </header>
      {error && <p className="error">Could not load the view: {error.message}</p>}
      {data === null || view === undefined ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <section className="card">
            <table className="table" data-testid="view-facts">
              <tbody>
                <tr>
                  <th>Owner</th>
                  <td>{view.owner ?? '—'}</td>
                </tr>
                <tr>
                  <th>Entities</th>
                  <td>
                    {view.entities.map((e) => `${e.name} (${e.joinKey}, ${e.type})`).join(', ')}
                  </td>
                </tr>
                <tr>
                  <th>TTL</th>
                  <td>{formatTtl(view.ttlSeconds)}</td>
                </tr>
                <tr>
                  <th>Source</th>
                  <td data-testid="view-source">
                    <span className="strong">{view.source.name}</span>{' '}
                    {view.source.path === null ? (
                      <span className="muted">(DuckDB query)</span>
                    ) : (
                      <code>{view.source.path}</code>
                    )}{' '}
                    <span className="muted small">
                      event time <code>{view.source.timestamp}</code>
                      {view.source.createdTimestamp !== null && (
                        <>
                          , created <code>{view.source.createdTimestamp}</code>
                        </>
                      )}
                    </span>
                  </td>
                </tr>
                <tr>
                  <th>Freshness</th>
                  <td data-testid="view-freshness">
                    <Freshness view={view} />
                    {view.freshness?.newestEventTime && (
                      <span className="muted small">
                        {' '}
                        (newest event {formatDateTime(view.freshness.newestEventTime)}, materialised
                        until {formatDateTime(view.freshness.materializedUntil)})
                      </span>
                    )}
                  </td>
                </tr>
                <tr>
                  <th>Registry</th>
                  <td>
                    {view.registry === null
                      ? '—'
                      : `v${view.registry.version}, applied ${formatDateTime(view.registry.appliedAt)}${view.registry.current ? '' : ' (the served definition differs: apply pending)'}`}
                  </td>
                </tr>
                {Object.keys(view.tags).length > 0 && (
                  <tr>
                    <th>Tags</th>
                    <td>
                      {Object.entries(view.tags)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(' · ')}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </section>

          <h2>Features</h2>
          <table className="table" data-testid="view-features">
            <thead>
              <tr>
                <th>Feature</th>
                <th>Type</th>
                <th>Description</th>
              </tr>
            </thead>
            <tbody>
              {view.features.map((f) => (
                <tr key={f.name}>
                  <td className="strong">{f.name}</td>
                  <td>
                    <code>{f.type}</code>
                  </td>
                  <td>{f.description ?? <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>

          <h2>Feature services using it</h2>
          {data.services.length === 0 ? (
            <p className="muted">No feature service reads this view.</p>
          ) : (
            <table className="table" data-testid="view-services">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Owner</th>
                  <th>Features</th>
                </tr>
              </thead>
              <tbody>
                {data.services.map((s) => (
                  <tr key={s.name} data-testid={`service-row-${s.name}`}>
                    <td>
                      <span className="strong">{s.name}</span>
                      {s.description && <div className="muted small">{s.description}</div>}
                    </td>
                    <td>{s.owner ?? '—'}</td>
                    <td>{s.features.join(', ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}

          <h2>Online values</h2>
          <form className="sample-keys" onSubmit={onSubmit}>
            <input
              aria-label="Entity keys"
              placeholder={`${view.entities.map((e) => e.joinKey).join('|')}, comma-separated`}
              value={keys}
              onChange={(e) => setKeys(e.target.value)}
            />{' '}
            <button type="submit" className="button">
              Look up
            </button>
          </form>
          <p className="muted small">
            {data.sample.keysFrom === 'request'
              ? 'The entities asked for.'
              : data.sample.keysFrom === 'store'
                ? `A sample of ${data.sample.rows.length} entities the online store holds (not random).`
                : 'This online store cannot list its entities: look some up by key.'}{' '}
            Missing: no row online; expired: the row is older than the TTL.
          </p>
          {data.sample.rows.length === 0 ? (
            <p className="muted" data-testid="sample-empty">
              No entities to show.
            </p>
          ) : (
            <table className="table" data-testid="sample-values">
              <thead>
                <tr>
                  {view.entities.map((e) => (
                    <th key={e.joinKey}>{e.joinKey}</th>
                  ))}
                  {data.sample.features.map((f) => (
                    <th key={f} className="right">
                      {f}
                    </th>
                  ))}
                  <th>Event time</th>
                </tr>
              </thead>
              <tbody>
                {data.sample.rows.map((row) => {
                  const id = view.entities.map((e) => row.entity[e.joinKey]).join('|');
                  const at = row.eventTimes.find((t) => t !== null) ?? null;
                  return (
                    <tr key={id} data-testid={`sample-row-${id}`}>
                      {view.entities.map((e) => (
                        <td key={e.joinKey} className="strong">
                          {row.entity[e.joinKey]}
                        </td>
                      ))}
                      {data.sample.features.map((f, i) => (
                        <ValueCell key={f} row={row} i={i} />
                      ))}
                      <td>{at === null ? '—' : formatDateTime(at)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </>
      )}
    </main>
  );
}
