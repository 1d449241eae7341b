import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInteractionLog } from '../data/read-interaction-log.js';
import { aggregateEvents } from './aggregate.js';

const EVENTS = 'datasets/ml-events/events.csv.gz';
const COLUMNS = { user: 'user', item: 'item', value: 'value', timestamp: 'timestamp' };
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-aggregate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const DAY = 86_400;
async function events(
  name: string,
  rows: [string, string, string, number, number][],
): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    `user,item,event,value,timestamp\n${rows.map((r) => r.join(',')).join('\n')}\n`,
  );
  return path;
}

describe('aggregateEvents', () => {
  it('turns the bundled demo events into one weighted row per (user, item)', async () => {
    const output = join(dir, 'demo.parquet');
    const figures = await aggregateEvents({
      input: EVENTS,
      output,
      eventWeights: { view: 1, like: 4 },
    });
    // 150,461 events of which 1,045 are logged twice; 100,836 rated (user, movie) pairs.
    expect(figures).toMatchObject({
      rowsIn: 150_461,
      rowsDistinct: 149_416,
      rowsInWindow: 149_416,
      rowsWeighted: 149_416,
      pairs: 100_836,
      pairsOut: 100_836,
      users: 610,
      items: 9_724,
    });
    const log = await readInteractionLog(output, { columns: COLUMNS });
    expect(log.rows).toBe(100_836);
    // A like (4) plus its view (1) sums to 5; a view alone is 1.
    expect(new Set(log.values)).toEqual(new Set([1, 5]));
    expect([...log.values!].filter((v) => v === 5)).toHaveLength(48_580);
    // Ordered by user, then time.
    for (let r = 1; r < log.rows; r++) {
      expect(
        log.users[r] > log.users[r - 1] ||
          (log.users[r] === log.users[r - 1] && log.timestamps![r] >= log.timestamps![r - 1]),
      ).toBe(true);
    }
  });

  it('combines by max, drops unweighted events and keeps the latest timestamp', async () => {
    const input = await events('combine.csv', [
      ['a', 'x', 'view', 1, 100],
      ['a', 'x', 'like', 1, 200],
      ['a', 'x', 'share', 1, 300],
      ['a', 'y', 'view', 2, 150],
    ]);
    const output = join(dir, 'combine.parquet');
    const figures = await aggregateEvents({
      input,
      output,
      eventWeights: { view: 1, like: 3 },
      combine: 'max',
    });
    expect(figures).toMatchObject({ rowsIn: 4, rowsWeighted: 3, pairs: 2 });
    const log = await readInteractionLog(output, { columns: COLUMNS, idType: 'string' });
    expect([...log.items]).toEqual(['y', 'x']);
    expect([...log.values!]).toEqual([2, 3]);
    expect([...log.timestamps!]).toEqual([150, 200]);
  });

  it('keeps only the window of days up to the newest event (or a given end)', async () => {
    const t = 1_700_000_000;
    const input = await events('window.csv', [
      ['1', '1', 'view', 1, t],
      ['1', '2', 'view', 1, t - 1 * DAY],
      ['1', '3', 'view', 1, t - 10 * DAY],
    ]);
    const output = join(dir, 'window.parquet');
    expect(
      (await aggregateEvents({ input, output, eventWeights: { view: 1 }, window: { days: 5 } }))
        .rowsInWindow,
    ).toBe(2);
    const end = new Date((t - 2 * DAY) * 1000).toISOString();
    expect(
      (
        await aggregateEvents({
          input,
          output,
          eventWeights: { view: 1 },
          window: { days: 30, end },
        })
      ).rowsInWindow,
    ).toBe(1);
  });

  it('prunes users and items below the minimum counts until none is left below them', async () => {
    // Item z has 2 users; dropping user c (1 item) leaves z with 1 user, which then goes, which
    // leaves user b with 1 item, which then goes too.
    const input = await events('prune.csv', [
      ['a', 'x', 'view', 1, 1],
      ['a', 'y', 'view', 1, 1],
      ['d', 'x', 'view', 1, 1],
      ['d', 'y', 'view', 1, 1],
      ['b', 'x', 'view', 1, 1],
      ['b', 'z', 'view', 1, 1],
      ['c', 'z', 'view', 1, 1],
    ]);
    const figures = await aggregateEvents({
      input,
      output: join(dir, 'prune.parquet'),
      eventWeights: { view: 1 },
      minUserItems: 2,
      minItemUsers: 2,
    });
    expect(figures).toMatchObject({ pairs: 7, pairsOut: 4, users: 2, items: 2 });
  });

  it('refuses bad weights, missing columns and inputs with nothing left', async () => {
    const input = await events('bad.csv', [['a', 'x', 'view', 1, 1]]);
    const output = join(dir, 'bad.parquet');
    await expect(aggregateEvents({ input, output, eventWeights: {} })).rejects.toThrow(
      /eventWeights: must weight at least one/,
    );
    await expect(aggregateEvents({ input, output, eventWeights: { view: 0 } })).rejects.toThrow(
      /eventWeights\.view: must be a positive number/,
    );
    await expect(
      aggregateEvents({ input, output, eventWeights: { view: 1 }, columns: { event: 'kind' } }),
    ).rejects.toThrow(/missing the event column "kind"/);
    await expect(aggregateEvents({ input, output, eventWeights: { like: 1 } })).rejects.toThrow(
      /no interactions are left/,
    );
    await expect(
      aggregateEvents({ input: join(dir, 'none.csv'), output, eventWeights: { view: 1 } }),
    ).rejects.toThrow(/none\.csv: file not found/);
  });

  it('keeps ids as the strings they are: "007" and "7" are two items, unicode and UUIDs unchanged', async () => {
    const input = await events('string-ids.csv', [
      ['ユーザー1-é', '007', 'view', 1, 1],
      ['ユーザー1-é', '7', 'view', 1, 2],
      ['a8098c1a-f86e-11da-bd1a-00112444be1e', '7', 'view', 1, 3],
    ]);
    const output = join(dir, 'string-ids.parquet');
    expect(await aggregateEvents({ input, output, eventWeights: { view: 1 } })).toMatchObject({
      pairsOut: 3,
      users: 2,
      items: 2,
    });
    const log = await readInteractionLog(output, { columns: COLUMNS });
    expect([...log.users]).toEqual([
      'a8098c1a-f86e-11da-bd1a-00112444be1e',
      'ユーザー1-é',
      'ユーザー1-é',
    ]);
    expect([...log.items]).toEqual(['7', '007', '7']);
    // All-numeric ids are strings too.
    const numeric = await events('numeric-ids.csv', [
      ['1', '007', 'view', 1, 1],
      ['2', '7', 'view', 1, 2],
    ]);
    await aggregateEvents({ input: numeric, output, eventWeights: { view: 1 } });
    const again = await readInteractionLog(output, { columns: COLUMNS });
    expect([...again.users]).toEqual(['1', '2']);
    expect([...again.items]).toEqual(['007', '7']);
  });

  it('reports a ragged line by its field count, naming file and line', async () => {
    const input = join(dir, 'ragged.csv');
    await writeFile(
      input,
      'user,item,event,value,timestamp\na,x,view,1,100\nb,y\na,y,view,1,100\n',
    );
    const output = join(dir, 'ragged.parquet');
    const error = (await aggregateEvents({ input, output, eventWeights: { view: 1 } }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toBe(
      `${input}, line 3: the line has 2 fields where the header has 5 (line text: "b,y")`,
    );
  });

  it('says an empty file is empty and a header-only file has no events', async () => {
    const output = join(dir, 'empty.parquet');
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, '');
    await expect(
      aggregateEvents({ input: empty, output, eventWeights: { view: 1 } }),
    ).rejects.toThrow(
      `${empty}: the file is empty (0 bytes); expected a header line naming the columns, then one row per line`,
    );
    const header = join(dir, 'header-only.csv');
    await writeFile(header, 'user,item,event,value,timestamp\n');
    const error = (await aggregateEvents({
      input: header,
      output,
      eventWeights: { view: 1 },
    }).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(`${header}: the file has a header line but no events`);
    expect(error.message).not.toMatch(/column0/);
  });
});
