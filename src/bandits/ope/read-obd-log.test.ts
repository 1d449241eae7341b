import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../core/errors.js';
import { candidateIds, contextRow, observedRewardRate, sliceBanditLog } from './bandit-log.js';
import { readObdLog } from './read-obd-log.js';

const ITEMS = [
  ',item_id,item_feature_0,item_feature_1',
  '0,2,0.5,b',
  '1,0,-1.0,a',
  '2,1,0.25,b',
].join('\n');
const HEADER =
  ',timestamp,item_id,position,click,propensity_score,user_feature_0,user_feature_1,user-item_affinity_0,user-item_affinity_1,user-item_affinity_2';
const ROWS = [
  '0,t1,0,1,0,0.3333333333333333,u,p,0.0,1.0,0.0',
  '1,t1,2,2,1,0.3333333333333333,u,p,0.0,1.0,0.0',
  '2,t2,1,1,0,0.3333333333333333,v,p,2.0,0.0,0.0',
  '3,t3,1,3,1,0.3333333333333333,u,q,0.0,0.0,3.0',
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-obd-'));
  await writeFile(join(dir, 'item_context.csv'), `${ITEMS}\n`);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function logFile(name: string, lines: string[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

describe('readObdLog', () => {
  it('reads rows, one-hot user features, affinities in action order, item features and rounds', async () => {
    const log = await readObdLog(await logFile('ok.csv', [HEADER, ...ROWS]));
    expect(log.rows).toBe(4);
    expect(log.actions).toEqual(['0', '1', '2']);
    expect(log.positions).toBe(3);
    expect([...log.action]).toEqual([0, 2, 1, 1]);
    expect([...log.position]).toEqual([0, 1, 0, 2]);
    expect([...log.reward]).toEqual([0, 1, 0, 1]);
    expect(log.propensity[0]).toBeCloseTo(1 / 3, 15);
    // The first two rows share timestamp and user features: one round with two slots.
    expect([...log.round]).toEqual([0, 0, 1, 2]);
    expect([...log.slots]).toEqual([3, 3, 3, 3]);
    expect(log.contextNames).toEqual([
      'user_feature_0=u',
      'user_feature_0=v',
      'user_feature_1=p',
      'user_feature_1=q',
      'user-item_affinity_0',
      'user-item_affinity_1',
      'user-item_affinity_2',
    ]);
    expect(log.actionContextStart).toBe(4);
    expect([...contextRow(log, 2)]).toEqual([0, 1, 1, 0, 2, 0, 0]);
    expect([...contextRow(log, 3)]).toEqual([1, 0, 0, 1, 0, 0, 3]);
    // item_context lists item 2 first; features follow the numeric item order: 0, 1, 2.
    expect(log.actionFeatureNames).toEqual([
      'item_feature_0',
      'item_feature_1=a',
      'item_feature_1=b',
    ]);
    expect([...log.actionFeatures]).toEqual([-1, 1, 0, 0.25, 0, 1, 0.5, 0, 1]);
    expect(candidateIds(log, 0)).toEqual(['0', '1', '2']);
    expect(observedRewardRate(log)).toBe(0.5);
  });

  it('slices by rows, renumbering rounds from 0', async () => {
    const log = await readObdLog(await logFile('slice.csv', [HEADER, ...ROWS]));
    const tail = sliceBanditLog(log, 1, 4);
    expect(tail.rows).toBe(3);
    expect([...tail.round]).toEqual([0, 1, 2]);
    expect([...contextRow(tail, 1)]).toEqual([...contextRow(log, 2)]);
    expect(() => sliceBanditLog(log, 3, 5)).toThrow(/rows: \[3, 5\) is not a range of the 4 rows/);
  });

  const bad: [string, string[], RegExp][] = [
    [
      'an unknown item',
      [HEADER, ROWS[0], '1,t1,7,2,1,0.3,u,p,0,0,0'],
      /bad\.csv, line 3, column "item_id": item "7" is not in .*item_context\.csv/,
    ],
    [
      'a position below 1',
      [HEADER, '0,t1,0,0,0,0.3,u,p,0,0,0'],
      /line 2, column "position": position must be an integer from 1, got "0"/,
    ],
    [
      'a propensity above 1',
      [HEADER, ROWS[0], ROWS[1], '2,t2,1,1,0,1.5,v,p,0,0,0'],
      /line 4, column "propensity_score": propensity must be in \(0, 1\], got "1.5"/,
    ],
    [
      'a non-numeric click',
      [HEADER, '0,t1,0,1,yes,0.3,u,p,0,0,0'],
      /line 2, column "click": reward must be a number, got "yes"/,
    ],
    [
      'a non-numeric affinity',
      [HEADER, '0,t1,0,1,0,0.3,u,p,0,x,0'],
      /line 2, column "user-item_affinity_1": affinity must be a number, got "x"/,
    ],
    [
      'a short row',
      [HEADER, ROWS[0], '1,t1,0,1,0'],
      /line 3: expected 11 fields like the header, found 5/,
    ],
    [
      'a missing column',
      [HEADER.replace(',click', ''), '0,t1,0,1,0.3,u,p,0,0,0'],
      /line 1, column "click": missing required column "click"/,
    ],
    [
      'an affinity to an unknown item',
      [`${HEADER},user-item_affinity_9`, `${ROWS[0]},0`],
      /column "user-item_affinity_9": affinity to item "9"/,
    ],
  ];
  for (const [what, lines, message] of bad) {
    it(`names file, line and column for ${what}`, async () => {
      const path = await logFile('bad.csv', lines);
      const error = await readObdLog(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('names the item file and line for a duplicate item, and a missing item file', async () => {
    const items = join(dir, 'dup-items.csv');
    await writeFile(items, `${ITEMS}\n3,1,0.0,a\n`);
    const path = await logFile('dup.csv', [HEADER, ...ROWS]);
    await expect(readObdLog(path, { itemContext: items })).rejects.toThrow(
      /dup-items\.csv, line 5, column "item_id": item 1 is listed twice \(first on line 4\)/,
    );
    await expect(readObdLog(path, { itemContext: join(dir, 'none.csv') })).rejects.toThrow(
      /none\.csv: file not found/,
    );
  });

  it('reads the bundled Open Bandit random logs', async () => {
    const men = await readObdLog('datasets/open-bandit-random/men/men.csv');
    expect(men.rows).toBe(10000);
    expect(men.actions.length).toBe(34);
    expect(men.positions).toBe(3);
    // One-hot user features (3 + 5 + 9 + 8 categories) then 34 affinities.
    expect(men.contextDim).toBe(25 + 34);
    expect(men.actionContextStart).toBe(25);
    // item_feature_0 numeric; 7 + 16 + 4 categories.
    expect(men.actionFeatureDim).toBe(28);
    expect(observedRewardRate(men)).toBeCloseTo(0.0046, 12);
    expect(men.propensity.every((p) => Math.abs(p - 1 / 34) < 1e-12)).toBe(true);
    const women = await readObdLog('datasets/open-bandit-random/women/women.csv');
    expect([women.rows, women.actions.length, women.contextDim, women.actionFeatureDim]).toEqual([
      10000,
      46,
      23 + 46,
      33,
    ]);
  });
});
