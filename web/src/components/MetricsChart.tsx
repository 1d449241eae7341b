/** A published version's offline metrics, as `meta.metrics` holds them (`{ "ndcg@10": 0.35 }`). */
export type Metrics = Record<string, number>;

/** One version's bars: its name, whether it is current, and its metrics. */
export interface VersionMetrics {
  version: string;
  current: boolean;
  metrics: Metrics;
}

/** The numeric metrics of a version's meta (`meta.metrics`), others left out. */
export function metricsOf(meta: Record<string, unknown> | null | undefined): Metrics {
  const raw = meta?.metrics;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const out: Metrics = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>))
    if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
  return out;
}

/** Every metric name of `versions`, in first-seen order. */
export function metricNames(versions: readonly { metrics: Metrics }[]): string[] {
  const names = new Set<string>();
  for (const v of versions) for (const name of Object.keys(v.metrics)) names.add(name);
  return [...names];
}

/** `0.3521`, `12.40`, `1,204` (integers with separators; others to four significant places). */
export function formatMetric(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  return abs >= 1000 ? value.toFixed(0) : abs >= 1 ? value.toFixed(2) : value.toPrecision(4);
}

/** A short version label: the first 14 characters (the timestamp part of a publish's name). */
export function shortVersion(version: string): string {
  return version.length > 16 ? `${version.slice(0, 14)}…` : version;
}

const W = 260;
const H = 150;
const PAD = { left: 8, right: 8, top: 18, bottom: 8 };

/**
 * One metric across versions: a bar per version, oldest on the left, the current one in the
 * accent colour, each labelled with its value. Bars start at zero (or at the lowest value when
 * some are negative), so heights compare.
 */
function MetricPanel({ name, versions }: { name: string; versions: readonly VersionMetrics[] }) {
  const values = versions.map((v) => v.metrics[name]);
  const known = values.filter((v): v is number => v !== undefined);
  const top = Math.max(0, ...known);
  const bottom = Math.min(0, ...known);
  const span = top - bottom || 1;
  const inner = W - PAD.left - PAD.right;
  const slot = inner / Math.max(1, versions.length);
  const bar = Math.min(48, slot * 0.7);
  const y = (v: number) => PAD.top + ((top - v) / span) * (H - PAD.top - PAD.bottom);
  return (
    <figure className="metric-panel" data-testid={`metric-chart-${name}`}>
      <figcaption className="strong">{name}</figcaption>
      <svg
        className="chart"
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${name} per version`}
      >
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} className="chart-grid" />
        {versions.map((v, i) => {
          const value = v.metrics[name];
          if (value === undefined) return null;
          const x = PAD.left + slot * i + (slot - bar) / 2;
          const y0 = Math.min(y(value), y(0));
          const h = Math.max(1, Math.abs(y(value) - y(0)));
          return (
            <g key={v.version}>
              <title>{`${v.version}${v.current ? ' (current)' : ''}: ${name} = ${value}`}</title>
              <rect
                x={x}
                y={y0}
                width={bar}
                height={h}
                rx={2}
                className={v.current ? 'metric-bar current' : 'metric-bar'}
              />
              <text x={x + bar / 2} y={y0 - 4} textAnchor="middle" className="chart-label">
                {formatMetric(value)}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/**
 * Small multiples of the offline metrics across versions: one panel per metric (each on its own
 * scale, since metrics differ in range), a bar per version, the current version highlighted.
 * `versions` in display order (oldest first).
 */
export function MetricsChart({ versions }: { versions: readonly VersionMetrics[] }) {
  const names = metricNames(versions);
  if (names.length === 0) return <p className="muted">No offline metrics were published.</p>;
  return (
    <>
      <div className="metric-panels">
        {names.map((name) => (
          <MetricPanel key={name} name={name} versions={versions} />
        ))}
      </div>
      <div className="chart-legend">
        <span className="chart-key">
          <span className="chart-swatch metric-swatch current" /> current version
        </span>
        {versions.length > 1 && (
          <span className="chart-key">
            <span className="chart-swatch metric-swatch" /> other held versions, oldest on the left
          </span>
        )}
      </div>
    </>
  );
}
