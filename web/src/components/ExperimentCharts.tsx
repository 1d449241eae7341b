import type { ExperimentAnalysis, Interval } from '../types.js';
import { armColor } from './BanditCharts.js';

const W = 720;
const PAD = { left: 120, right: 20, top: 12, bottom: 28 };

/** Ticks for a range: about five round steps. */
function ticks(low: number, high: number): number[] {
  const span = high - low || 1;
  const step = 10 ** Math.floor(Math.log10(span / 4));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(low / nice) * nice; v <= high + 1e-12; v += nice) out.push(+v.toFixed(12));
  return out;
}

const pct = (v: number) => `${(v * 100).toFixed(Math.abs(v) < 0.1 ? 1 : 0)}%`;

/**
 * Each treatment's relative difference from the control as a dot with its confidence interval
 * as a bar, around a line at 0: an interval clear of the line is a difference the data supports.
 */
export function IntervalChart({ analysis }: { analysis: ExperimentAnalysis }) {
  const rows = analysis.comparisons.filter(
    (c) => c.relative !== null,
  ) as (ExperimentAnalysis['comparisons'][number] & { relative: Interval })[];
  const rowH = 34;
  const H = PAD.top + PAD.bottom + rowH * Math.max(1, rows.length);
  const low = Math.min(0, ...rows.map((c) => c.relative.ci[0]));
  const high = Math.max(0, ...rows.map((c) => c.relative.ci[1]));
  const pad = (high - low) * 0.08 || 0.01;
  const x = (v: number) =>
    PAD.left + ((v - (low - pad)) / (high - low + 2 * pad)) * (W - PAD.left - PAD.right);
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="chart"
      role="img"
      aria-label="Relative difference from the control with confidence intervals"
      data-testid="interval-chart"
    >
      {ticks(low - pad, high + pad).map((v) => (
        <g key={v}>
          <line
            x1={x(v)}
            x2={x(v)}
            y1={PAD.top}
            y2={H - PAD.bottom}
            className={v === 0 ? 'chart-zero' : 'chart-grid'}
          />
          <text x={x(v)} y={H - 8} textAnchor="middle" className="chart-label">
            {pct(v)}
          </text>
        </g>
      ))}
      {rows.map((c, i) => {
        const y = PAD.top + rowH * i + rowH / 2;
        const colour = armColor(i + 1);
        return (
          <g key={c.variant} data-variant={c.variant} className="interval-row">
            <text x={PAD.left - 10} y={y + 4} textAnchor="end" className="chart-label strong-label">
              {c.variant}
            </text>
            <line
              x1={x(c.relative.ci[0])}
              x2={x(c.relative.ci[1])}
              y1={y}
              y2={y}
              stroke={colour}
              strokeWidth={6}
              strokeLinecap="round"
              opacity={0.55}
              className="interval-bar"
            />
            <circle cx={x(c.relative.estimate)} cy={y} r={5} fill={colour} className="interval-dot">
              <title>{`${c.variant}: ${pct(c.relative.estimate)} [${pct(c.relative.ci[0])}, ${pct(c.relative.ci[1])}]`}</title>
            </circle>
          </g>
        );
      })}
    </svg>
  );
}

/** Cumulative relative lift of each treatment over time, with its confidence band, around 0. */
export function LiftChart({ analysis }: { analysis: ExperimentAnalysis }) {
  const H = 240;
  const pad = { left: 52, right: 16, top: 12, bottom: 28 };
  const points = analysis.timeline;
  const treatments = analysis.comparisons.map((c) => c.variant);
  const values = points.flatMap((p) =>
    treatments.flatMap((t) => (p.lift[t] ? [p.lift[t]!.ci[0], p.lift[t]!.ci[1]] : [])),
  );
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  const span = high - low || 0.01;
  const y = (v: number) => pad.top + (1 - (v - low) / span) * (H - pad.top - pad.bottom);
  const n = points.length;
  const x = (i: number) =>
    pad.left +
    (n <= 1 ? (W - pad.left - pad.right) / 2 : (i / (n - 1)) * (W - pad.left - pad.right));
  const step = Math.max(1, Math.ceil(n / 6));
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="chart"
      role="img"
      aria-label="Cumulative relative lift over time"
      data-testid="lift-chart"
    >
      {ticks(low, high).map((v) => (
        <g key={v}>
          <line
            x1={pad.left}
            x2={W - pad.right}
            y1={y(v)}
            y2={y(v)}
            className={v === 0 ? 'chart-zero' : 'chart-grid'}
          />
          <text x={pad.left - 6} y={y(v) + 4} textAnchor="end" className="chart-label">
            {pct(v)}
          </text>
        </g>
      ))}
      {points.map((p, i) =>
        i % step === 0 || i === n - 1 ? (
          <text
            key={p.until}
            x={x(i)}
            y={H - 8}
            textAnchor={n > 1 && i === n - 1 ? 'end' : n > 1 && i === 0 ? 'start' : 'middle'}
            className="chart-label"
          >
            {new Date(p.until).toLocaleDateString()}
          </text>
        ) : null,
      )}
      {treatments.map((t, k) => {
        const idx = points.map((p, i) => (p.lift[t] ? i : -1)).filter((i) => i >= 0);
        if (idx.length === 0) return null;
        const colour = armColor(k + 1);
        const upper = idx.map((i) => `${x(i)},${y(points[i]!.lift[t]!.ci[1])}`);
        const lower = idx.map((i) => `${x(i)},${y(points[i]!.lift[t]!.ci[0])}`).reverse();
        return (
          <g key={t} data-variant={t}>
            <polygon
              points={[...upper, ...lower].join(' ')}
              fill={colour}
              fillOpacity={0.15}
              className="lift-band"
            />
            <polyline
              points={idx.map((i) => `${x(i)},${y(points[i]!.lift[t]!.estimate)}`).join(' ')}
              fill="none"
              stroke={colour}
              strokeWidth={2}
              className="lift-line"
            />
            {idx.map((i) => (
              <circle
                key={i}
                cx={x(i)}
                cy={y(points[i]!.lift[t]!.estimate)}
                r={3}
                fill={colour}
                className="lift-dot"
              />
            ))}
          </g>
        );
      })}
    </svg>
  );
}
