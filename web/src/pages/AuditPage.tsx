import { useEffect, useState } from 'react';
import { ApiError } from '../api.js';
import type { paths } from '../api-types.js';
import { formatDateTime } from '../format.js';

/** One page of `GET /v1/audit`, as its schema (`src/serving/routes/audit.ts`) answers it. */
type AuditPage = paths['/v1/audit']['get']['responses'][200]['content']['application/json'];
type AuditEntry = AuditPage['entries'][number];

const PAGE = 50;

async function loadAudit(principal: string, cursor: string | null): Promise<AuditPage> {
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (principal !== '') q.set('principal', principal);
  if (cursor !== null) q.set('cursor', cursor);
  const res = await fetch(`/v1/audit?${q}`);
  const body = (await res.json().catch(() => ({}))) as Partial<AuditPage> & {
    code?: string;
    message?: string;
  };
  if (!res.ok)
    throw new ApiError(
      res.status,
      body.code ?? `HTTP_${res.status}`,
      body.message ?? res.statusText,
    );
  return body as AuditPage;
}

/**
 * The audit log: every write to the API, newest first (who, what, when, from where, the
 * status), filtered by principal id, with older pages loaded on demand. Needs `audit:read`.
 */
export function AuditPage() {
  const [principal, setPrincipal] = useState('');
  const [filter, setFilter] = useState('');
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(false);

  useEffect(() => {
    let cancelled = false;
    setEntries(null);
    setError(null);
    loadAudit(filter, null).then(
      (page) => {
        if (cancelled) return;
        setEntries(page.entries);
        setNext(page.nextCursor);
      },
      (e: Error) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [filter]);

  const older = async () => {
    if (next === null) return;
    setLoading(true);
    try {
      const page = await loadAudit(filter, next);
      setEntries((shown) => [...(shown ?? []), ...page.entries]);
      setNext(page.nextCursor);
    } catch (e) {
      setError(e as Error);
    } finally {
      setLoading(false);
    }
  };

  return (
    <main className="page" data-testid="audit-page">
      <h1>Audit log</h1>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(principal.trim());
        }}
      >
        <input
          aria-label="principal id"
          placeholder="principal id"
          value={principal}
          onChange={(e) => setPrincipal(e.target.value)}
        />{' '}
        <button type="submit" className="button">
          Filter
        </button>
      </form>
      {error instanceof ApiError && (error.status === 401 || error.status === 403) ? (
        <p className="error">The audit log needs the audit:read scope: {error.message}</p>
      ) : error instanceof ApiError && error.status === 404 ? (
        <p className="muted">This server keeps no audit log.</p>
      ) : (
        error && <p className="error">Could not load the audit log: {error.message}</p>
      )}
      {entries === null ? (
        !error && <p className="muted">Loading…</p>
      ) : entries.length === 0 ? (
        <p className="muted">No writes recorded{filter === '' ? '' : ` for ${filter}`}.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>How</th>
              <th>What</th>
              <th>Target</th>
              <th>Status</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-testid={`audit-row-${e.id}`}>
                <td>{formatDateTime(e.at)}</td>
                <td title={e.principalId ?? undefined}>{e.principalName ?? 'anonymous'}</td>
                <td>{e.method}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  {Object.entries(e.target)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ')}
                </td>
                <td>{e.status}</td>
                <td>{e.ip}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next !== null && (
        <p>
          <button type="button" className="button" disabled={loading} onClick={() => void older()}>
            {loading ? 'Loading…' : 'Older'}
          </button>
        </p>
      )}
    </main>
  );
}
