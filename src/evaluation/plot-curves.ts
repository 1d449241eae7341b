/** One model's curves, as {@link EvaluationResult.curves} holds them. */
export interface CurveSeries {
  name: string;
  curves: Record<'precision' | 'recall' | 'ndcg' | 'map', number[]>;
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#9467bd',
  '#ff7f0e',
  '#8c564b',
  '#17becf',
  '#7f7f7f',
];
const PANEL = { width: 420, height: 300, left: 52, right: 26, top: 36, bottom: 44 };
const PANELS: { metric: keyof CurveSeries['curves']; label: string }[] = [
  { metric: 'recall', label: 'recall@k' },
  { metric: 'ndcg', label: 'nDCG@k' },
  { metric: 'precision', label: 'precision@k' },
  { metric: 'map', label: 'MAP@k' },
];

/**
 * A standalone SVG chart comparing models: recall, nDCG, precision and MAP against the list
 * length k, one panel each, one line per model. Opens in any browser.
 */
export function renderCurvesSvg(series: readonly CurveSeries[], title: string): string {
  const cols = 2;
  const width = PANEL.width * cols;
  const legendHeight = 24 + 18 * Math.ceil(series.length / 4);
  const height = 40 + PANEL.height * Math.ceil(PANELS.length / cols) + legendHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${escapeXml(title)}</text>`,
  ];
  PANELS.forEach((panel, p) => {
    parts.push(
      renderPanel(
        series,
        panel.metric,
        panel.label,
        (p % cols) * PANEL.width,
        40 + Math.floor(p / cols) * PANEL.height,
      ),
    );
  });
  const legendTop = height - legendHeight + 16;
  series.forEach((s, i) => {
    const x = 24 + (i % 4) * (width / 4);
    const y = legendTop + Math.floor(i / 4) * 18;
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2.5"/>`,
    );
    parts.push(`<text x="${x + 28}" y="${y + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function renderPanel(
  series: readonly CurveSeries[],
  metric: keyof CurveSeries['curves'],
  label: string,
  ox: number,
  oy: number,
): string {
  const k = Math.max(1, ...series.map((s) => s.curves[metric].length));
  const top = Math.max(1e-9, ...series.flatMap((s) => s.curves[metric]));
  const yMax = niceCeil(top);
  const plotW = PANEL.width - PANEL.left - PANEL.right;
  const plotH = PANEL.height - PANEL.top - PANEL.bottom;
  const x = (c: number): number =>
    ox + PANEL.left + (k === 1 ? plotW / 2 : ((c - 1) / (k - 1)) * plotW);
  const y = (v: number): number => oy + PANEL.top + plotH - (v / yMax) * plotH;
  const out: string[] = [
    `<text x="${ox + PANEL.width / 2}" y="${oy + 20}" text-anchor="middle" font-weight="600">${label}</text>`,
  ];
  const step = niceStep(yMax);
  for (let t = 0; t * step <= yMax * (1 + 1e-9); t++) {
    const v = t * step;
    out.push(`<line x1="${x(1)}" y1="${y(v)}" x2="${x(k)}" y2="${y(v)}" stroke="#e5e5e5"/>`);
    out.push(
      `<text x="${x(1) - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${Number(v.toPrecision(6))}</text>`,
    );
  }
  for (const c of xTicks(k)) {
    out.push(`<text x="${x(c)}" y="${y(0) + 16}" text-anchor="middle" fill="#555">${c}</text>`);
  }
  out.push(
    `<text x="${ox + PANEL.left + plotW / 2}" y="${y(0) + 34}" text-anchor="middle" fill="#555">k</text>`,
  );
  out.push(`<line x1="${x(1)}" y1="${y(0)}" x2="${x(k)}" y2="${y(0)}" stroke="#999"/>`);
  series.forEach((s, i) => {
    const points = s.curves[metric]
      .map((v, c) => `${x(c + 1).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ');
    out.push(
      `<polyline fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2" points="${points}"/>`,
    );
  });
  return out.join('\n');
}

/** About six round tick positions in 1..k, always including 1 and k. */
function xTicks(k: number): number[] {
  const step =
    [1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000].find((s) => k / s <= 6) ?? Math.ceil(k / 6);
  const ticks = new Set([1, k]);
  for (let c = step; c < k; c += step) ticks.add(c);
  return [...ticks].sort((a, b) => a - b);
}

/** A round grid step that cuts [0, max] into at most six parts. */
function niceStep(max: number): number {
  const base = 10 ** Math.floor(Math.log10(max / 6));
  for (const m of [1, 2, 2.5, 5, 10]) if (max / (m * base) <= 6) return m * base;
  return 10 * base;
}

/** The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above v. */
function niceCeil(v: number): number {
  const base = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * base >= v) return m * base;
  return 10 * base;
}

function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}
