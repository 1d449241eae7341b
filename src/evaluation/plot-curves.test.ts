import { describe, expect, it } from 'vitest';
import { renderCurvesSvg } from './plot-curves.js';

describe('renderCurvesSvg', () => {
  it('draws one line per model in each of the four panels, with a legend', () => {
    const curve = (scale: number) => ({
      precision: [0.5, 0.4, 0.3].map((v) => v * scale),
      recall: [0.1, 0.2, 0.3].map((v) => v * scale),
      ndcg: [0.5, 0.45, 0.4].map((v) => v * scale),
      map: [0.5, 0.35, 0.3].map((v) => v * scale),
    });
    const svg = renderCurvesSvg(
      [
        { name: 'als', curves: curve(1) },
        { name: 'a<b>&"c"', curves: curve(0.5) },
      ],
      'k & more',
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(8);
    for (const label of ['recall@k', 'nDCG@k', 'precision@k', 'MAP@k'])
      expect(svg).toContain(`>${label}<`);
    expect(svg).toContain('a&lt;b&gt;&amp;&quot;c&quot;');
    expect(svg).toContain('k &amp; more');
    // Each line has one point per cutoff.
    const first = /points="([^"]+)"/.exec(svg)![1].split(' ');
    expect(first).toHaveLength(3);
  });
});
