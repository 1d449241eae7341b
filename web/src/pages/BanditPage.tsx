import { api } from '../api.js';
import { armColor, RewardChart, ShareChart } from '../components/BanditCharts.js';
import { formatDateTime, formatDuration } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';
import type { RewardRate } from '../types.js';

function percent(v: number | null): string {
  return v === null ? '—' : `${(v * 100).toFixed(1)}%`;
}

function interval(r: RewardRate): string {
  return r.low === null || r.high === null ? '—' : `${percent(r.low)} – ${percent(r.high)}`;
}

/** One bandit: arm selection shares and reward rate over time (from the decision logs), and totals per arm. */
export function BanditPage({ name }: { name: string }) {
  const { data: report, error } = usePolled(() => api.banditReport(name), [name], 10_000);
  return (
    <main className="page" data-testid="bandit-page">
      <nav className="crumbs">
        <Link to="/bandits">Bandits</Link> / <span>{name}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>{name}</h1>
          {report && report.from !== null && (
            <p className="muted small">
              {report.decisions} decisions from {formatDateTime(report.from)} to{' '}
              {formatDateTime(report.to)} · buckets of {formatDuration(report.bucketMs)} · reward
              rate <span data-testid="overall-rate">{percent(report.overall.rate)}</span> (
              {interval(report.overall)}, 95% Wilson, {report.overall.n} with feedback)
            </p>
          )}
        </div>
      </header>
      {error && <p className="error">Could not load the report: {error.message}</p>}
      {report === null ? (
        !error && <p className="muted">Loading…</p>
      ) : report.decisions === 0 ? (
        <p className="muted">No decisions logged yet.</p>
      ) : (
        <>
          <h2>Arm selection shares</h2>
          <section className="card">
            <ShareChart report={report} />
            <div className="chart-legend" data-testid="share-legend">
              {report.arms.map((arm, a) => (
                <span key={arm} className="chart-key">
                  <span className="chart-swatch" style={{ background: armColor(a) }} />
                  {arm}
                </span>
              ))}
            </div>
          </section>
          <h2>Reward rate</h2>
          <section className="card">
            <RewardChart report={report} />
            <p className="muted small">
              Mean reward per bucket of decisions with feedback; the band is its 95% Wilson interval
              (rewards clamped to [0, 1]).
            </p>
          </section>
          <h2>Totals per arm</h2>
          <table className="table" data-testid="arm-totals">
            <thead>
              <tr>
                <th>Arm</th>
                <th className="right">Chosen</th>
                <th className="right">Share</th>
                <th className="right">With feedback</th>
                <th className="right">Reward rate</th>
                <th className="right">95% interval</th>
              </tr>
            </thead>
            <tbody>
              {report.totals.map((t, a) => (
                <tr key={t.arm} data-testid={`arm-row-${t.arm}`}>
                  <td>
                    <span className="chart-swatch" style={{ background: armColor(a) }} /> {t.arm}
                  </td>
                  <td className="right">{t.chosen}</td>
                  <td className="right">{percent(t.share)}</td>
                  <td className="right">{t.n}</td>
                  <td className="right">{percent(t.rate)}</td>
                  <td className="right">{interval(t)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {report.clampedRewards > 0 && (
            <p className="muted small">
              {report.clampedRewards} rewards outside [0, 1] were clamped.
            </p>
          )}
        </>
      )}
    </main>
  );
}
