import { useState } from 'react';
import { api, ApiError } from '../api.js';
import { armColor } from '../components/BanditCharts.js';
import { IntervalChart, LiftChart } from '../components/ExperimentCharts.js';
import { formatDateTime } from '../format.js';
import { usePolled } from '../hooks.js';
import { Link } from '../router.js';
import type { ExperimentAnalysis, Interval } from '../types.js';

const pct = (v: number | null, digits = 2) => (v === null ? '—' : `${(v * 100).toFixed(digits)}%`);
const num = (v: number) =>
  Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toPrecision(4) : v.toFixed(4);
/** A change with exactly one sign: `+3.2%`, `-0.1%` (the reduction may be negative: never `−-0.1%`). */
const signedPct = (v: number) => {
  const magnitude = (Math.abs(v) * 100).toFixed(1);
  return `${Number(magnitude) === 0 ? '' : v < 0 ? '-' : '+'}${magnitude}%`;
};
const p = (v: number) => (v < 1e-4 ? v.toExponential(1) : v.toFixed(4));

function interval(i: Interval | null, f: (v: number) => string): string {
  return i === null ? '—' : `${f(i.estimate)} [${f(i.ci[0])}, ${f(i.ci[1])}]`;
}

/** One experiment: its definition, results per metric (table, interval chart, cumulative lift), SRM warning and data-quality counts. */
export function ExperimentPage({ name }: { name: string }) {
  const [metric, setMetric] = useState<string | null>(null);
  const { data: experiment, error: definitionError } = usePolled(
    () => api.experiment(name),
    [name],
    10_000,
  );
  const { data: results, error } = usePolled(
    () => api.experimentResults(name, metric),
    [name, metric],
    10_000,
  );
  const noEvents = error instanceof ApiError && error.status === 404 && experiment !== null;
  return (
    <main className="page" data-testid="experiment-page">
      <nav className="crumbs">
        <Link to="/experiments">Experiments</Link> / <span>{name}</span>
      </nav>
      <header className="page-head">
        <div>
          <h1>{name}</h1>
          {experiment && (
            <p className="muted small" data-testid="experiment-definition">
              <span className={`badge state-${experiment.status}`}>{experiment.status}</span> ·
              layer {experiment.layer} · traffic {pct(experiment.traffic, 0)} · variants{' '}
              {experiment.variants.map((v) => `${v.name} (${v.weight})`).join(', ')} · control{' '}
              {experiment.control}
              {experiment.startAt && ` · started ${formatDateTime(experiment.startAt)}`}
              {experiment.stopAt && ` · stopped ${formatDateTime(experiment.stopAt)}`}
            </p>
          )}
        </div>
        {results && results.metrics.length > 1 && (
          <label className="small">
            Metric{' '}
            <select
              value={results.metric}
              onChange={(e) => setMetric(e.target.value)}
              data-testid="metric-select"
            >
              {results.metrics.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </label>
        )}
      </header>
      {definitionError && (
        <p className="error">Could not load the experiment: {definitionError.message}</p>
      )}
      {noEvents ? (
        <p className="muted">
          No metric events yet: send exposures and conversions to POST /v1/events.
        </p>
      ) : (
        error &&
        !definitionError && <p className="error">Could not load the results: {error.message}</p>
      )}
      {results && <Results analysis={results} />}
    </main>
  );
}

function Results({ analysis: a }: { analysis: ExperimentAnalysis }) {
  const byVariant = new Map(a.comparisons.map((c) => [c.variant, c]));
  const rate = a.kind === 'conversion';
  return (
    <>
      {a.srm.mismatch && (
        <p className="warning srm" data-testid="srm-warning">
          Sample ratio mismatch: the units per variant do not fit the configured weights (χ² ={' '}
          {a.srm.chi2.toFixed(2)}, p = {p(a.srm.pValue)}). Assignment or logging is broken; do not
          trust these results until it is explained.
        </p>
      )}
      <h2>
        Results: {a.metric}{' '}
        <span className="muted small">
          ({rate ? 'conversion rate' : 'mean per unit'}; {pct(a.confidence, 0)} intervals;{' '}
          {a.alternative} test)
        </span>
      </h2>
      <table className="table" data-testid="results-table">
        <thead>
          <tr>
            <th>Variant</th>
            <th className="right">Units</th>
            <th className="right">Share (expected)</th>
            <th className="right">{rate ? 'Conversions' : 'Variance'}</th>
            <th className="right">{rate ? 'Rate' : 'Mean'}</th>
            <th className="right">Difference</th>
            <th className="right">Relative</th>
            <th className="right">p</th>
            <th className="right">Always-valid p</th>
            <th className="right">P(beats control)</th>
          </tr>
        </thead>
        <tbody>
          {a.variants.map((v, i) => {
            const c = byVariant.get(v.variant);
            return (
              <tr key={v.variant} data-testid={`result-row-${v.variant}`}>
                <td>
                  <span className="chart-swatch" style={{ background: armColor(i) }} /> {v.variant}
                  {v.variant === a.control && <span className="muted small"> control</span>}
                </td>
                <td className="right">{v.units.toLocaleString()}</td>
                <td className="right">
                  {pct(v.share, 1)} ({pct(v.expectedShare, 1)})
                </td>
                <td className="right">
                  {rate
                    ? (v.conversions ?? 0).toLocaleString()
                    : v.variance === null
                      ? '—'
                      : num(v.variance)}
                </td>
                <td className="right">{rate ? pct(v.rate) : num(v.mean)}</td>
                <td className="right">
                  {c ? interval(c.difference, rate ? (x) => pct(x) : num) : ''}
                </td>
                <td className="right">{c ? interval(c.relative, (x) => pct(x, 1)) : ''}</td>
                <td className={`right${c?.significant ? ' yes' : ''}`}>{c ? p(c.pValue) : ''}</td>
                <td className="right">{c ? p(c.sequential.pValue) : ''}</td>
                <td className="right">{c ? pct(c.probabilityToBeatControl, 1) : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {a.comparisons.some((c) => c.cuped !== null) && (
        <p className="muted small" data-testid="cuped">
          CUPED with the pre-exposure value:{' '}
          {a.comparisons
            .filter((c) => c.cuped !== null)
            .map(
              (c) =>
                `${c.variant} ${interval(c.cuped!.difference, rate ? (x) => pct(x) : num)}, p = ${p(c.cuped!.pValue)}, variance ${signedPct(-c.cuped!.varianceReduction)}`,
            )
            .join('; ')}
        </p>
      )}
      <h2>Relative difference from {a.control}</h2>
      <section className="card">
        <IntervalChart analysis={a} />
      </section>
      {a.timeline.length > 0 && (
        <>
          <h2>Cumulative lift over time</h2>
          <section className="card">
            <LiftChart analysis={a} />
            <p className="muted small">
              Relative difference from {a.control} of the units first exposed up to each day, with
              its {pct(a.confidence, 0)} interval (not corrected for peeking: use the always-valid
              p).
            </p>
          </section>
        </>
      )}
      <h2>Data quality</h2>
      <section className="card quality" data-testid="quality">
        <div>
          <strong data-testid="quality-multi">{a.quality.multiVariantUnits}</strong>
          <span className="muted small">units in several variants (excluded)</span>
        </div>
        <div>
          <strong data-testid="quality-unknown">{a.quality.unknownVariantUnits}</strong>
          <span className="muted small">units in an unknown variant (excluded)</span>
        </div>
        <div>
          <strong data-testid="quality-unexposed">{a.quality.unexposedEvents}</strong>
          <span className="muted small">events of never-exposed units (ignored)</span>
        </div>
        <div>
          <strong data-testid="quality-srm">{p(a.srm.pValue)}</strong>
          <span className="muted small">sample-ratio p ({a.srm.mismatch ? 'mismatch' : 'ok'})</span>
        </div>
      </section>
      {a.warnings.length > 0 && (
        <ul className="warning" data-testid="warnings">
          {a.warnings.map((w) => (
            <li key={w}>{w}</li>
          ))}
        </ul>
      )}
    </>
  );
}
