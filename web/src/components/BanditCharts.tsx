import type { BanditReport } from '../types.js';

/** Colours of arms, by their index in the report (most chosen first); repeats after ten. */
export const ARM_COLORS = [
  '#2563eb',
  '#f59e0b',
  '#22c55e',
  '#ef4444',
  '#8b5cf6',
  '#06b6d4',
  '#ec4899',
  '#84cc16',
  '#f97316',
  '#6b7280',
];

/** The colour of arm `index`. */
export function armColor(index: number): string {
  return ARM_COLORS[index % ARM_COLORS.length]!;
}

const W = 720;
const H = 220;
const PAD = { left: 44, right: 12, top: 10, bottom: 28 };

function timeLabel(iso: string, bucketMs: number): string {
  const d = new Date(iso);
  return bucketMs >= 86_400_000
    ? d.toLocaleDateString()
    : d.toLocaleTimeString([], {
        hour: '2-digit',
        minute: '2-digit',
        ...(bucketMs < 60_000 ? { second: '2-digit' } : {}),
      });
}

/** Axes shared by both charts: y from 0 to 1 in quarters, x labels at a few bucket starts. */
function Axes({ report, x }: { report: BanditReport; x: (i: number) => number }) {
  const y = (v: number) => PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);
  const n = report.buckets.length;
  const step = Math.max(1, Math.ceil(n / 6));
  return (
    <g className="chart-axes">
      {[0, 0.25, 0.5, 0.75, 1].map((v) => (
        <g key={v}>
          <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className="chart-grid" />
          <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="chart-label">
            {`${Math.round(v * 100)}%`}
          </text>
        </g>
      ))}
      {report.buckets.map((b, i) =>
        i % step === 0 || (i === n - 1 && i % step >= step / 2) ? (
          <text
            key={b.start}
            x={x(i)}
            y={H - 8}
            textAnchor={n > 1 && i === n - 1 ? 'end' : n > 1 && i === 0 ? 'start' : 'middle'}
            className="chart-label"
          >
            {timeLabel(b.start, report.bucketMs)}
          </text>
        ) : null,
      )}
    </g>
  );
}

/** Bucket centres: a single bucket sits in the middle. */
function xScale(n: number): (i: number) => number {
  const inner = W - PAD.left - PAD.right;
  return (i) => PAD.left + (n <= 1 ? inner / 2 : (i / (n - 1)) * inner);
}

const yScale = (v: number) => PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);

/** Stacked areas of each arm's share of the impressions per time bucket (empty buckets left blank at 0). */
export function ShareChart({ report }: { report: BanditReport }) {
  const n = report.buckets.length;
  const x = xScale(n);
  const below = new Array<number>(n).fill(0);
  const areas = report.arms.map((arm, a) => {
    const lower = [...below];
    report.buckets.forEach((b, i) => (below[i] += b.shares[a] ?? 0));
    const upper = [...below];
    const top = upper.map((v, i) => `${x(i)},${yScale(v)}`);
    const bottom = lower.map((v, i) => `${x(i)},${yScale(v)}`).reverse();
    // A single bucket is drawn as a bar a tenth of the width wide.
    const points =
      n === 1
        ? [
            `${x(0) - 36},${yScale(upper[0]!)}`,
            `${x(0) + 36},${yScale(upper[0]!)}`,
            `${x(0) + 36},${yScale(lower[0]!)}`,
            `${x(0) - 36},${yScale(lower[0]!)}`,
          ]
        : [...top, ...bottom];
    return (
      <polygon
        key={arm}
        points={points.join(' ')}
        fill={armColor(a)}
        fillOpacity={0.75}
        stroke={armColor(a)}
        data-arm={arm}
        className="share-area"
      />
    );
  });
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="chart"
      role="img"
      aria-label="Arm selection shares over time"
      data-testid="share-chart"
    >
      <Axes report={report} x={x} />
      {areas}
    </svg>
  );
}

/** The reward rate per time bucket as a line with its 95% interval as a band; buckets without feedback break the line. */
export function RewardChart({ report }: { report: BanditReport }) {
  const n = report.buckets.length;
  const x = xScale(n);
  const runs: number[][] = [];
  let current: number[] = [];
  report.buckets.forEach((b, i) => {
    if (b.reward.rate === null) {
      if (current.length > 0) runs.push(current);
      current = [];
    } else current.push(i);
  });
  if (current.length > 0) runs.push(current);
  return (
    <svg
      viewBox={`0 0 ${W} ${H}`}
      className="chart"
      role="img"
      aria-label="Reward rate over time"
      data-testid="reward-chart"
    >
      <Axes report={report} x={x} />
      {runs.map((run) => {
        const upper = run.map((i) => `${x(i)},${yScale(report.buckets[i]!.reward.high!)}`);
        const lower = run.map((i) => `${x(i)},${yScale(report.buckets[i]!.reward.low!)}`).reverse();
        return (
          <polygon
            key={`band-${run[0]}`}
            points={[...upper, ...lower].join(' ')}
            className="reward-band"
          />
        );
      })}
      {runs.map((run) => (
        <polyline
          key={`line-${run[0]}`}
          points={run.map((i) => `${x(i)},${yScale(report.buckets[i]!.reward.rate!)}`).join(' ')}
          className="reward-line"
        />
      ))}
      {report.buckets.map((b, i) =>
        b.reward.rate === null ? null : (
          <circle key={b.start} cx={x(i)} cy={yScale(b.reward.rate)} r={3} className="reward-dot">
            <title>{`${(b.reward.rate * 100).toFixed(1)}% (${((b.reward.low ?? 0) * 100).toFixed(1)}–${((b.reward.high ?? 0) * 100).toFixed(1)}%), n = ${b.reward.n}`}</title>
          </circle>
        ),
      )}
    </svg>
  );
}
