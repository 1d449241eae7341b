import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../core/errors.js';
import { Interactions } from './interactions.js';
import { readInteractionLog } from './read-interaction-log.js';
import { splitLogPerUser } from './split.js';

const TRAIN = 'datasets/ml-latest-small/splits/train.csv';
const HEADER = 'userId,movieId,rating,timestamp\n';
let dir: string;
const file = async (name: string, text: string): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-read-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readInteractionLog', () => {
  it('reads the bundled MovieLens training split with the documented counts', async () => {
    const log = await readInteractionLog(TRAIN);
    expect(log.rows).toBe(80_419);
    const data = Interactions.fromLog(log);
    expect(data.users.size).toBe(610);
    expect(data.items.size).toBe(8_974);
    // First data line: 1,1500,4.0,964980985; ids are strings unless told otherwise.
    expect([log.users[0], log.items[0], log.values![0], log.timestamps![0]]).toEqual([
      '1',
      '1500',
      4,
      964980985,
    ]);
    const integers = await readInteractionLog(TRAIN, { idType: 'integer' });
    expect([integers.users[0], integers.items[0]]).toEqual([1, 1500]);
    // Numeric-looking string ids get the dense indices their integers would.
    expect(Interactions.fromLog(integers).items.toJSON().map(String)).toEqual(data.items.toJSON());
  });

  it('names file, line and column of a value that is not an integer id', async () => {
    const path = await file('bad-id.csv', `${HEADER}1,10,4.0,1\n2,x11,3.0,2\n3,12,1.0,3\n`);
    await expect(readInteractionLog(path, { idType: 'integer' })).rejects.toThrow(
      `${path}, line 3, column "movieId": "x11" is not an integer`,
    );
  });

  it('reports empty fields and wrong field counts by line', async () => {
    const path = await file('ragged.csv', `${HEADER}1,10,4.0,1\n1,11,1.0,1,9\n2,,3.0,2\n`);
    const error = await readInteractionLog(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).location).toMatchObject({ file: path, line: 3 });
    expect((error as Error).message).toMatch(
      /the line has 5 fields where the header has 4.*2 malformed rows in all/,
    );
  });

  it('skips, counts and reports malformed rows when asked to', async () => {
    const path = await file(
      'mixed.csv',
      `${HEADER}1,10,4.0,1\n1,x,1.0,1\n2,11,,2\n,12,2.0,3\n2,12,zz,4\n3,13,5.0,5\n`,
    );
    const log = await readInteractionLog(path, { badRows: 'skip', idType: 'integer' });
    expect(log.rows).toBe(2);
    expect([...(log.items as Float64Array)]).toEqual([10, 13]);
    expect(log.skipped).toBe(4);
    expect(log.badRows.map((b) => [b.line, b.column])).toEqual([
      [3, 'movieId'],
      [4, 'rating'],
      [5, 'userId'],
      [6, 'rating'],
    ]);
  });

  it('names the missing columns and the ones the file has', async () => {
    const path = await file('cols.csv', 'user,item\n1,2\n');
    await expect(readInteractionLog(path)).rejects.toThrow(
      /missing required columns "userId", "movieId", "rating", "timestamp"; the file has "user", "item"/,
    );
    const log = await readInteractionLog(path, { columns: { user: 'user', item: 'item' } });
    expect(log.values).toBeNull();
    expect(log.rows).toBe(1);
  });

  it('refuses a missing file, an empty file and a header without rows', async () => {
    await expect(readInteractionLog(join(dir, 'nope.csv'))).rejects.toThrow(
      /nope\.csv: file not found/,
    );
    await expect(readInteractionLog(await file('empty.csv', ''))).rejects.toThrow(
      /the file is empty \(0 bytes\)/,
    );
    await expect(readInteractionLog(await file('header.csv', HEADER))).rejects.toThrow(
      /a header line but no data rows/,
    );
  });

  it('keeps string ids when told they are strings', async () => {
    const path = await file('strings.csv', 'u,i\nalice,book-1\nbob,book-2\nalice,book-2\n');
    const log = await readInteractionLog(path, {
      columns: { user: 'u', item: 'i' },
      idType: 'string',
    });
    const data = Interactions.fromLog(log);
    expect(data.users.toJSON()).toEqual(['alice', 'bob']);
    expect(data.userItems.rowNnz(data.users.indexOf('alice'))).toBe(2);
  });

  it('reads Parquet and names the row of a bad value', async () => {
    const good = join(dir, 'good.parquet');
    const bad = join(dir, 'bad.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    await con.run(
      `COPY (SELECT * FROM (VALUES (1, 10, 4.0, 1), (2, 11, 3.5, 2)) t("userId", "movieId", rating, "timestamp")) TO '${good}' (FORMAT parquet)`,
    );
    await con.run(
      `COPY (SELECT * FROM (VALUES ('1', '10', 4.0, 1), ('2', 'oops', 3.5, 2)) t("userId", "movieId", rating, "timestamp")) TO '${bad}' (FORMAT parquet)`,
    );
    con.closeSync();
    instance.closeSync();
    const log = await readInteractionLog(good, { idType: 'integer' });
    expect(log.rows).toBe(2);
    expect(log.values![1]).toBe(3.5);
    await expect(readInteractionLog(bad, { idType: 'integer' })).rejects.toThrow(
      `${bad}, row 2, column "movieId": "oops" is not an integer`,
    );
  });
});

describe('readInteractionLog messages (issue 15)', () => {
  it('reports a ragged line by its field count, naming file and line', async () => {
    const path = await file('short-line.csv', `${HEADER}1,10,4.0,1\n5,6\n7,8,9,10\n`);
    await expect(readInteractionLog(path)).rejects.toThrow(
      `${path}, line 3: the line has 2 fields where the header has 4 (line text: "5,6"). Pass badRows "skip" (CLI: --skip-bad-rows) to drop them.`,
    );
    const long = await file('long-line.csv', `${HEADER}1,10,4.0,1,99\n`);
    await expect(readInteractionLog(long)).rejects.toThrow(
      `${long}, line 2: the line has 5 fields where the header has 4`,
    );
  });

  it('counts one skipped row per bad line', async () => {
    const path = await file('short-skip.csv', `${HEADER}1,10,4.0,1\n5,6\n7,8,9,10\n9\n`);
    const log = await readInteractionLog(path, { badRows: 'skip' });
    expect(log.rows).toBe(2);
    expect(log.skipped).toBe(2);
    expect(log.badRows.map((b) => [b.line, b.reason])).toEqual([
      [3, 'the line has 2 fields where the header has 4'],
      [5, 'the line has 1 field where the header has 4'],
    ]);
  });

  it('says an empty file is empty and a header-only file has no data rows', async () => {
    const empty = await file('zero.csv', '');
    await expect(readInteractionLog(empty)).rejects.toThrow(
      `${empty}: the file is empty (0 bytes)`,
    );
    const header = await file('only-header.csv', HEADER);
    await expect(readInteractionLog(header)).rejects.toThrow(
      `${header}: the file has a header line but no data rows`,
    );
  });

  it('indexes string ids in code-unit order where UTF-8 byte order differs', async () => {
    // DuckDB sorts U+FF21 before U+1F600 (UTF-8 bytes); JavaScript the other way (UTF-16).
    const path = await file('astral.csv', 'u,i\n\uFF21,10\n\u{1F600},7\n42,10\n');
    const log = await readInteractionLog(path, { columns: { user: 'u', item: 'i' } });
    expect([...log.users]).toEqual(['\uFF21', '\u{1F600}', '42']);
    const data = Interactions.fromLog(log);
    expect(data.users.toJSON()).toEqual(['42', '\u{1F600}', '\uFF21']);
    expect(data.items.toJSON()).toEqual(['7', '10']);
    expect(data.userItems.has(data.users.indexOf('\uFF21'), data.items.indexOf('10'))).toBe(true);
  });

  it('refuses an integer id beyond ±2^53, naming it exactly', async () => {
    const path = await file('huge-id.csv', `${HEADER}1,10,4.0,1\n2,9007199254740993,3.0,2\n`);
    await expect(readInteractionLog(path, { idType: 'integer' })).rejects.toThrow(
      `${path}, column "movieId": id 9007199254740993 is beyond ±2^53 and cannot be kept exactly`,
    );
    const log = await readInteractionLog(path);
    expect([...log.items]).toEqual(['10', '9007199254740993']);
  });

  it('reads ids as strings by default, exactly as written', async () => {
    const path = await file('default-strings.csv', `${HEADER}ユーザー1-é,007,4.0,1\n42,7,3.0,2\n`);
    const log = await readInteractionLog(path);
    expect([...log.users]).toEqual(['ユーザー1-é', '42']);
    expect([...log.items]).toEqual(['007', '7']);
  });
});

describe('splitLogPerUser', () => {
  it("keeps each user's first ⌊0.9·m⌋ rows (at least one) in file order", async () => {
    const log = await readInteractionLog(TRAIN, { idType: 'integer' });
    const { fit, holdout } = splitLogPerUser(log, 0.9);
    expect(fit.rows + holdout.rows).toBe(log.rows);
    // The first held-out row is user 1's row number ⌊0.9·m⌋ + 1 in file order.
    const user1 = [...(log.users as Float64Array)].filter((u) => u === 1).length;
    expect([...(fit.users as Float64Array)].filter((u) => u === 1).length).toBe(
      Math.floor(0.9 * user1),
    );
    const firstHeld = [...(log.items as Float64Array)].filter((_, r) => log.users[r] === 1)[
      Math.floor(0.9 * user1)
    ];
    expect(holdout.items[0]).toBe(firstHeld);
  });
});
