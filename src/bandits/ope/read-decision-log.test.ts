import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../../core/errors.js';
import type { DecisionLogEntry, FeedbackLogEntry } from '../decision-log.js';
import { candidateIds, contextRow } from './bandit-log.js';
import { readDecisionLog } from './read-decision-log.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-decisions-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function file(name: string, records: unknown[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`,
  );
  return path;
}

describe('readDecisionLog', () => {
  it('reads decisions (one round each, a row per shown arm) and impressions grouped by decisionId', async () => {
    const path = await file('ok.jsonl', [
      {
        decisionId: 'd1',
        bandit: 'home',
        policy: 'linucb',
        version: 3,
        context: [1, 0],
        candidates: ['x', 'y', 'z'],
        arms: ['y', 'x'],
        propensities: [0.5, 0.4],
        rewards: [1, null],
      },
      {
        context: [0, 1],
        candidates: ['y', 'w'],
        arm: 'w',
        position: 0,
        propensity: 0.25,
        reward: 0,
        decisionId: 'd2',
      },
      {
        context: [0, 1],
        candidates: ['y', 'w'],
        arm: 'y',
        position: 1,
        propensity: 1,
        decisionId: 'd2',
      },
      '',
      {
        context: [2, 2],
        candidates: ['x', 'y', 'z', 'w'],
        arm: 'z',
        propensity: 0.25,
        reward: 0.5,
      },
    ]);
    const { log, decisions, laterSlotImpressions, missingRewards } = await readDecisionLog(path);
    expect(log.actions).toEqual(['x', 'y', 'z', 'w']);
    expect(log.rows).toBe(5);
    expect(decisions).toBe(3);
    expect([...log.round]).toEqual([0, 0, 1, 1, 2]);
    expect([...log.action]).toEqual([1, 0, 3, 1, 2]);
    expect([...log.position]).toEqual([0, 1, 0, 1, 0]);
    expect([...log.reward]).toEqual([1, 0, 0, 0, 0.5]);
    expect([...log.propensity]).toEqual([0.5, 0.4, 0.25, 1, 0.25]);
    expect([...log.slots]).toEqual([2, 2, 2, 2, 1]);
    expect(log.positions).toBe(2);
    expect([...contextRow(log, 3)]).toEqual([0, 1]);
    expect(candidateIds(log, 0)).toEqual(['x', 'y', 'z']);
    expect(candidateIds(log, 2)).toEqual(['y', 'w']);
    expect(candidateIds(log, 4)).toEqual(['x', 'y', 'z', 'w']);
    expect(laterSlotImpressions).toBe(1);
    expect(missingRewards).toBe(2);
  });

  it('takes the marginal probabilities of a multi-slot decision where the log has them', async () => {
    const path = await file('marginals.jsonl', [
      {
        context: [1],
        candidates: ['a', 'b', 'c', 'd'],
        arms: ['c', 'a', 'd'],
        propensities: [0.25, 1 / 3, 0.5],
        marginals: [0.25, 0.25, 0.25],
        rewards: [0, 1, 0],
      },
      {
        context: [1],
        candidates: ['a', 'b'],
        arms: ['b', 'a'],
        propensities: [0.5, 1],
        rewards: [1, 0],
      },
    ]);
    const { log, laterSlotImpressions } = await readDecisionLog(path);
    expect([...log.propensity]).toEqual([0.25, 0.25, 0.25, 0.5, 1]);
    expect(laterSlotImpressions).toBe(1); // only the decision without marginals
    const bad = await file('bad-marginals.jsonl', [
      {
        context: [1],
        candidates: ['a', 'b'],
        arms: ['a', 'b'],
        propensities: [0.5, 1],
        marginals: [0.5],
      },
    ]);
    await expect(readDecisionLog(bad)).rejects.toThrow(/marginals.*has 1 numbers for 2 arms/);
  });

  it('keeps only slot 0 with firstSlotOnly, renumbering rounds', async () => {
    const path = await file('first.jsonl', [
      {
        context: [1],
        candidates: ['a', 'b'],
        arms: ['a', 'b'],
        propensities: [0.5, 1],
        rewards: [0, 1],
      },
      {
        context: [1],
        candidates: ['a', 'b'],
        arms: ['b', 'a'],
        propensities: [0.5, 1],
        positions: [1, 0],
        rewards: [1, 0],
      },
    ]);
    const { log, decisions } = await readDecisionLog(path, { firstSlotOnly: true });
    expect([...log.action]).toEqual([0, 0]);
    expect([...log.round]).toEqual([0, 1]);
    expect(decisions).toBe(2);
    expect(log.candidates).toBeNull();
  });

  it('reads the directory `kiban serve` writes: decisions and feedback in several files, put in time order, one bandit at a time', async () => {
    const logDir = join(dir, 'served');
    await mkdir(logDir);
    const decision = (
      id: string,
      bandit: string,
      time: string,
      arms: string[],
    ): DecisionLogEntry => ({
      type: 'decision',
      decisionId: id,
      bandit,
      policy: 'linucb',
      version: 1,
      time,
      context: [1, 2],
      candidates: ['a', 'b', 'c'],
      arms,
      positions: arms.map((_, j) => j),
      propensities: arms.map(() => 0.5),
    });
    const feedback = (
      id: string,
      bandit: string,
      arms: string[],
      rewards: number[],
    ): FeedbackLogEntry => ({
      type: 'feedback',
      decisionId: id,
      bandit,
      time: '2026-01-01T00:00:09Z',
      arms,
      rewards,
    });
    // Process 1 decided d2 (later) and took the feedback on d1; process 2 decided d1 (earlier).
    await writeFile(
      join(logDir, 'decisions-host-1.jsonl'),
      `${[decision('d2', 'home', '2026-01-01T00:00:05Z', ['c']), feedback('d1', 'home', ['a', 'b'], [0, 1]), decision('x1', 'other', '2026-01-01T00:00:01Z', ['a'])].map((l) => JSON.stringify(l)).join('\n')}\n`,
    );
    await writeFile(
      join(logDir, 'decisions-host-2.jsonl'),
      `${JSON.stringify(decision('d1', 'home', '2026-01-01T00:00:02Z', ['a', 'b']))}\n`,
    );
    await writeFile(join(logDir, 'notes.txt'), 'not a log\n');
    const error = await readDecisionLog(logDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(
      /bandit: .* holds decisions of 2 bandits \(home, other\); choose one/,
    );
    const { log, missingRewards } = await readDecisionLog(logDir, { bandit: 'home' });
    expect([...log.action]).toEqual([0, 1, 2]);
    expect([...log.reward]).toEqual([0, 1, 0]);
    expect([...log.round]).toEqual([0, 0, 1]);
    expect(missingRewards).toBe(1);
  });

  const bad: [string, unknown[], RegExp][] = [
    ['malformed JSON', ['{"context": [1]'], /line 1: not valid JSON/],
    [
      'a missing context',
      [{ candidates: ['a'], arm: 'a', propensity: 1 }],
      /line 1, column "context": must be an array of finite numbers/,
    ],
    [
      'a context of another length',
      [
        { context: [1], candidates: ['a'], arm: 'a', propensity: 1 },
        { context: [1, 2], candidates: ['a'], arm: 'a', propensity: 1 },
      ],
      /line 2, column "context": has 2 numbers; earlier lines have 1/,
    ],
    [
      'an arm outside the candidates',
      [{ context: [1], candidates: ['a'], arm: 'b', propensity: 1 }],
      /line 1, column "arms": arm "b" is not among the candidates/,
    ],
    [
      'a zero propensity',
      [{ context: [1], candidates: ['a', 'b'], arms: ['a'], propensities: [0] }],
      /line 1, column "propensities": a propensity must be in \(0, 1\], got 0/,
    ],
    [
      'propensities not matching arms',
      [{ context: [1], candidates: ['a', 'b'], arms: ['a', 'b'], propensities: [0.5] }],
      /column "propensities": has 1 numbers for 2 arms/,
    ],
    [
      'a string reward',
      [{ context: [1], candidates: ['a'], arm: 'a', propensity: 1, reward: 'yes' }],
      /column "rewards": a reward must be a finite number or null, got "yes"/,
    ],
  ];
  for (const [what, records, message] of bad) {
    it(`names file and line for ${what}`, async () => {
      const path = await file('bad.jsonl', records);
      const error = await readDecisionLog(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toMatch(/bad\.jsonl, line \d/);
      expect((error as Error).message).toMatch(message);
    });
  }
});
