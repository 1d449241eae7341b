import type { TuneResult } from './tuner.js';

const SIZE = { width: 720, height: 420, left: 64, right: 180, top: 44, bottom: 52 };

/**
 * A standalone SVG chart of a search: validation nDCG@k (y) of every trial at every rung it
 * reached (x: the rung and its budget), one grey line per trial, the best in red and the defaults
 * (when they were a trial) in blue, so the halving and how far early rungs predict the last can
 * be read at a glance. Opens in any browser.
 */
export function renderTuningSvg(result: TuneResult, title: string): string {
  const { width, height, left, right, top, bottom } = SIZE;
  const rungs = result.rungSizes.length;
  const scores = result.trials.flatMap((t) => t.rungs.map((r) => r.ndcg));
  let low = Math.min(...scores);
  let high = Math.max(...scores);
  if (high - low < 1e-6) {
    low -= 0.01;
    high += 0.01;
  }
  const pad = (high - low) * 0.08;
  low = Math.max(0, low - pad);
  high += pad;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (rung: number): number =>
    left + (rungs === 1 ? plotW / 2 : (rung / (rungs - 1)) * plotW);
  const y = (v: number): number => top + (1 - (v - low) / (high - low)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${(left + width - right) / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">validation nDCG@${result.k}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = low + ((high - low) * i) / 5;
    parts.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(3)}</text>`,
    );
  }
  for (let r = 0; r < rungs; r++) {
    const budget = result.eta ** -(rungs - 1 - r);
    const what = result.fidelity.by === 'iterations' ? (result.fidelity.param ?? '') : 'users';
    parts.push(
      `<text x="${x(r).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">rung ${r}: ${result.trials.filter((t) => t.rungs.length > r).length} trials</text>`,
      `<text x="${x(r).toFixed(1)}" y="${top + plotH + 34}" text-anchor="middle" fill="#666">${formatShare(budget)} of ${escapeXml(what)}</text>`,
    );
  }
  const best = result.best.trial;
  // Grey first, then the defaults and the best on top, so they are never hidden.
  const order = [...result.trials].sort((a, b) => rank(a) - rank(b));
  function rank(t: (typeof result.trials)[number]): number {
    return t.trial === best ? 2 : t.defaults ? 1 : 0;
  }
  for (const t of order) {
    const colour = t.trial === best ? '#d62728' : t.defaults ? '#1f77b4' : '#999';
    const points = t.rungs.map((e) => `${x(e.rung).toFixed(1)},${y(e.ndcg).toFixed(1)}`);
    if (points.length > 1)
      parts.push(
        `<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="${colour === '#999' ? 1 : 2}"/>`,
      );
    for (const e of t.rungs)
      parts.push(
        `<circle cx="${x(e.rung).toFixed(1)}" cy="${y(e.ndcg).toFixed(1)}" r="3" fill="${colour}"><title>trial ${t.trial} rung ${e.rung}: ${e.ndcg.toFixed(4)} ${escapeXml(JSON.stringify(t.params))}</title></circle>`,
      );
  }
  const legendX = left + plotW + 16;
  const legend: [string, string][] = [
    ['#d62728', `best: trial ${best} (${result.best.ndcg.toFixed(4)})`],
    ['#1f77b4', 'the defaults'],
    ['#999', 'other trials'],
  ];
  legend.forEach(([colour, label], i) => {
    const ly = top + 10 + i * 20;
    parts.push(
      `<line x1="${legendX}" y1="${ly}" x2="${legendX + 18}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${legendX + 24}" y="${ly + 4}">${escapeXml(label)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function formatShare(share: number): string {
  return share === 1 ? 'all' : `1/${Math.round(1 / share)}`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
