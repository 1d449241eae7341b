import { type FormEvent, useState } from 'react';
import { api, ApiError, type RecommendedItem } from '../api.js';
import { usePolled } from '../hooks.js';
import { formatMetric } from './MetricsChart.js';

/** Most items the explorer asks for (the route's own limit is 1000). */
const MAX_K = 200;

/** The explorer's query from the page's URL (`?user=…&k=…`), so an exploration can be shared. */
function queryFromUrl(): { user: string; k: number } {
  const params = new URLSearchParams(window.location.search);
  const k = Number(params.get('k'));
  return {
    user: params.get('user')?.trim() ?? '',
    k: Number.isInteger(k) && k >= 1 && k <= MAX_K ? k : 10,
  };
}

/** An explanation: the user's items that led to the item, strongest first, or the raw JSON. */
function Explanation({ explain }: { explain: RecommendedItem['explain'] }) {
  if (explain === undefined || explain === null) return <span className="muted">—</span>;
  const reasons = Array.isArray(explain.reasons) ? explain.reasons : null;
  if (reasons === null) return <code className="small">{JSON.stringify(explain)}</code>;
  if (reasons.length === 0) return <span className="muted">no reasons given</span>;
  return (
    <span className="reasons">
      because of{' '}
      {reasons.map((r, i) => (
        <span key={r.item} className="reason" title={`contribution ${r.score}`}>
          <code>{r.item}</code> <span className="muted small">({formatMetric(r.score)})</span>
          {i < reasons.length - 1 ? ', ' : ''}
        </span>
      ))}
    </span>
  );
}

/** The score of each item as a bar relative to the best one, beside its number. */
function ScoreCell({ score, best }: { score: number; best: number }) {
  const width = best > 0 && score > 0 ? Math.max(2, (score / best) * 100) : 0;
  return (
    <td className="right nowrap score-cell">
      <span className="score-bar" style={{ width: `${width}%` }} />
      <span className="score-value">{formatMetric(score)}</span>
    </td>
  );
}

/**
 * "Recommendations for user X": a user id and k, and the service's answer for them: items with
 * their score, source (personal, related-to-recent, popular, …) and explanation, and whether the
 * user got the fallback. The creators recommended to the user too, where the server has that route.
 */
export function RecommendationExplorer({ service, prefix }: { service: string; prefix: string }) {
  const initial = queryFromUrl();
  const [userInput, setUserInput] = useState(initial.user);
  const [kInput, setKInput] = useState(String(initial.k));
  const [query, setQuery] = useState<{ user: string; k: number } | null>(
    initial.user === '' ? null : initial,
  );
  const [nonce, setNonce] = useState(0);

  const recs = usePolled(
    () =>
      query === null ? Promise.resolve(null) : api.userRecommendations(prefix, query.user, query.k),
    [prefix, query?.user, query?.k, nonce],
  );
  const creators = usePolled(
    () => (query === null ? Promise.resolve(null) : api.userCreators(prefix, query.user, query.k)),
    [prefix, query?.user, query?.k, nonce],
  );

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    const user = userInput.trim();
    if (user === '') return;
    const kNumber = Number(kInput);
    const k = Number.isInteger(kNumber) ? Math.min(MAX_K, Math.max(1, kNumber)) : 10;
    setKInput(String(k));
    setQuery({ user, k });
    setNonce((n) => n + 1);
    const params = new URLSearchParams(window.location.search);
    params.set('user', user);
    params.set('k', String(k));
    window.history.replaceState(null, '', `${window.location.pathname}?${params}`);
  };

  const answer = recs.data;
  const shown = answer !== null && query !== null && answer.user === query.user ? answer : null;
  const best = Math.max(0, ...(shown?.items.map((i) => i.score) ?? []));
  const creatorAnswer =
    creators.error === null && creators.data?.user === query?.user ? creators.data : null;
  const creatorList = creatorAnswer?.creators ?? null;
  const bestCreator = Math.max(0, ...(creatorList?.map((c) => c.score) ?? []));

  return (
    <section className="card" data-testid="explorer">
      <form className="explorer-form" onSubmit={onSubmit}>
        <label>
          User{' '}
          <input
            aria-label="User id"
            placeholder="a user id"
            value={userInput}
            onChange={(e) => setUserInput(e.target.value)}
          />
        </label>
        <label>
          k{' '}
          <input
            aria-label="k"
            type="number"
            min={1}
            max={MAX_K}
            className="k-input"
            value={kInput}
            onChange={(e) => setKInput(e.target.value)}
          />
        </label>
        <button type="submit" className="button primary" disabled={userInput.trim() === ''}>
          Recommend
        </button>
      </form>
      {query === null ? (
        <p className="muted small">
          Type a user id to see what <strong>{service}</strong> recommends to them, and why.
        </p>
      ) : recs.error !== null ? (
        <p className="error">
          {recs.error instanceof ApiError && recs.error.status === 503
            ? `Nothing is published for ${service} yet.`
            : `Could not load the recommendations: ${recs.error.message}`}
        </p>
      ) : shown === null ? (
        <p className="muted">Loading…</p>
      ) : (
        <>
          <p className="small" data-testid="explorer-summary">
            {shown.items.length} items for user <code>{shown.user}</code> from{' '}
            <strong>{service}</strong>
            {shown.fallback && (
              <span className="fallback-note" data-testid="explorer-fallback">
                {' '}
                · the model does not know this user: fallback items
              </span>
            )}
          </p>
          {shown.items.length === 0 ? (
            <p className="muted">No items.</p>
          ) : (
            <table className="table" data-testid="explorer-items">
              <thead>
                <tr>
                  <th className="right">#</th>
                  <th>Item</th>
                  <th className="right">Score</th>
                  <th>Source</th>
                  <th>Why</th>
                </tr>
              </thead>
              <tbody>
                {shown.items.map((item, i) => (
                  <tr key={item.id} data-testid={`rec-row-${item.id}`}>
                    <td className="right muted">{i + 1}</td>
                    <td>
                      <code className="rec-id">{item.id}</code>
                    </td>
                    <ScoreCell score={item.score} best={best} />
                    <td>
                      {item.source === undefined ? (
                        <span className="muted">—</span>
                      ) : (
                        <span className={`source-tag source-${item.source}`}>{item.source}</span>
                      )}
                    </td>
                    <td>
                      <Explanation explain={item.explain} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {creatorList !== null && creatorList.length > 0 && (
            <>
              <h3 className="explorer-creators">
                Creators for this user
                {creatorAnswer?.fallback === true && (
                  <span className="muted small" data-testid="creators-fallback">
                    popular creators (no list of the user's own)
                  </span>
                )}
              </h3>
              <table className="table creators-table" data-testid="explorer-creators">
                <thead>
                  <tr>
                    <th className="right">#</th>
                    <th>Creator</th>
                    <th className="right">Score</th>
                  </tr>
                </thead>
                <tbody>
                  {creatorList.map((c, i) => (
                    <tr key={c.id} data-testid={`creator-row-${c.id}`}>
                      <td className="right muted">{i + 1}</td>
                      <td>
                        <code>{c.id}</code>
                      </td>
                      <ScoreCell score={c.score} best={bestCreator} />
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </section>
  );
}
