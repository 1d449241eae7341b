import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { BanditReportAggregator } from './bandit-report-aggregator.js';
import { buildBanditReport } from './bandit-report.js';
import type { DecisionLogLine } from './decision-log.js';

const T0 = Date.parse('2026-12-01T10:00:00Z');

function decision(id: string, ms: number, arms: string[], bandit = 'home'): DecisionLogLine {
  return {
    type: 'decision',
    decisionId: id,
    bandit,
    policy: 'egreedy',
    version: 0,
    time: new Date(T0 + ms).toISOString(),
    context: [],
    candidates: ['a', 'b', 'c'],
    arms,
    positions: arms.map((_, j) => j),
    propensities: arms.map(() => 0.5),
  };
}

function feedback(id: string, ms: number, arms: string[], rewards: number[]): DecisionLogLine {
  return {
    type: 'feedback',
    decisionId: id,
    bandit: 'home',
    time: new Date(T0 + ms).toISOString(),
    arms,
    rewards,
  };
}

const text = (lines: DecisionLogLine[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');

describe('BanditReportAggregator', () => {
  const tmp = useTempDir('kiban-report-aggregator-');

  it('reads only what was appended since the last report, and answers as a fresh full read', async () => {
    const a = join(tmp.path, 'decisions-a.jsonl');
    const b = join(tmp.path, 'decisions-b.jsonl');
    const all: DecisionLogLine[] = [];
    const first = [
      decision('d1', 0, ['a', 'b']),
      decision('d2', 65_000, ['c']),
      decision('x', 1000, ['a'], 'other'),
    ];
    // Feedback for both in the other process's file.
    const second = [feedback('d1', 2000, ['a', 'b'], [1, 0]), feedback('d2', 70_000, ['c'], [2])];
    await writeFile(a, text(first));
    await writeFile(b, text(second));
    all.push(...first, ...second);
    const incremental = new BanditReportAggregator(tmp.path);
    await incremental.update();
    expect(incremental.bytesRead).toBe(text(first).length + text(second).length);
    expect(incremental.report('home')).toEqual(buildBanditReport('home', all));

    // Appended: a decision, its feedback, a line still being written (no newline yet).
    const more = [
      decision('d3', 3_600_000, ['b', 'a']),
      feedback('d3', 3_601_000, ['b', 'a'], [0, 1]),
    ];
    const partial = JSON.stringify(decision('d4', 3_700_000, ['c'])).slice(0, 40);
    await appendFile(a, text(more) + partial);
    all.push(...more);
    const before = incremental.bytesRead;
    await incremental.update();
    expect(incremental.bytesRead - before).toBe(text(more).length + partial.length);
    const fresh = new BanditReportAggregator(tmp.path);
    await fresh.update();
    expect(incremental.report('home')).toEqual(fresh.report('home'));
    expect(incremental.report('home')).toEqual(buildBanditReport('home', all));
    expect(incremental.report('home').decisions).toBe(3);

    // Nothing new: nothing read.
    const settled = incremental.bytesRead;
    await incremental.update();
    expect(incremental.bytesRead - settled).toBe(partial.length);
  });

  it('honours from and to, and refuses a malformed range naming the field', async () => {
    const aggregator = new BanditReportAggregator(tmp.path);
    await aggregator.update();
    const early = aggregator.report('home', { to: new Date(T0 + 60_000).toISOString() });
    expect(early.decisions).toBe(1);
    expect(early.overall).toMatchObject({ n: 2, rewardSum: 1 });
    const late = aggregator.report('home', { from: new Date(T0 + 60_000).toISOString() });
    expect(late.decisions).toBe(2);
    expect(
      aggregator.report('home', {
        from: new Date(T0 + 60_000).toISOString(),
        to: new Date(T0 + 120_000).toISOString(),
      }).decisions,
    ).toBe(1);
    expect(() => aggregator.report('home', { from: 'yesterday' })).toThrow(/^from: /);
    expect(() =>
      aggregator.report('home', {
        from: new Date(T0).toISOString(),
        to: new Date(T0).toISOString(),
      }),
    ).toThrow(/^to: /);
  });

  it('reads a truncated or replaced file again from its start', async () => {
    const sub = await mkdtemp(join(tmp.path, 'rotate-'));
    const path = join(sub, 'decisions-r.jsonl');
    await writeFile(path, text([decision('r1', 0, ['a']), decision('r2', 1000, ['b'])]));
    const aggregator = new BanditReportAggregator(sub);
    await aggregator.update();
    expect(aggregator.report('home').decisions).toBe(2);
    await writeFile(path, text([decision('r3', 2000, ['c'])]));
    await aggregator.update();
    expect(aggregator.report('home').decisions).toBe(3);
  });
});
