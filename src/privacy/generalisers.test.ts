import { describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlLiteral } from '../data/duckdb-sql.js';
import {
  buildHierarchy,
  type GeneraliserSpec,
  generaliseSql,
  type Hierarchy,
  SUPPRESSED_LABEL,
} from './generalisers.js';

/** Each value's label at `level`, in the order of `h.values`. */
function labelsAt(h: Hierarchy, level: number): (string | null)[] {
  return h.values.map((_, i) => h.labels[level][h.groupOf[level][i]]);
}

/** Each value's loss at `level`. */
function lossAt(h: Hierarchy, level: number): number[] {
  return h.values.map((_, i) => h.loss[level][h.groupOf[level][i]]);
}

function expectThrows(fn: () => unknown, check: (e: unknown) => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeDefined();
  check(caught);
}

describe('buildHierarchy', () => {
  it('bands numbers, nulls apart, with width ÷ range as loss', () => {
    const values = ['3', '12', '25', '-5', '30', null, '19.5'];
    const h = buildHierarchy('age', { band: [10, 20] }, values);
    expect(h.levels).toBe(4);
    expect(h.names).toEqual(['value', 'band 10', 'band 20', '*']);
    expect(labelsAt(h, 0)).toEqual(values);
    expect(labelsAt(h, 1)).toEqual([
      '[0,10)',
      '[10,20)',
      '[20,30)',
      '[-10,0)',
      '[30,40)',
      null,
      '[10,20)',
    ]);
    expect(labelsAt(h, 2)).toEqual([
      '[0,20)',
      '[0,20)',
      '[20,40)',
      '[-20,0)',
      '[20,40)',
      null,
      '[0,20)',
    ]);
    expect(labelsAt(h, 3)).toEqual(Array(7).fill(SUPPRESSED_LABEL));
    expect(Array.from(h.groupOf[1])).toEqual([0, 1, 2, 3, 4, 5, 1]);
    // range 30 − (−5) = 35
    expect(lossAt(h, 0)).toEqual(Array(7).fill(0));
    expect(lossAt(h, 1)).toEqual([10 / 35, 10 / 35, 10 / 35, 10 / 35, 10 / 35, 0, 10 / 35]);
    expect(lossAt(h, 2)).toEqual([20 / 35, 20 / 35, 20 / 35, 20 / 35, 20 / 35, 0, 20 / 35]);
    expect(lossAt(h, 3)).toEqual(Array(7).fill(1));
  });

  it('bands from an origin with fractional widths, loss capped at 1', () => {
    const h = buildHierarchy('x', { band: [2.5, 5], origin: 5 }, ['6', '0', '7.5']);
    expect(labelsAt(h, 1)).toEqual(['[5,7.5)', '[0,2.5)', '[7.5,10)']);
    expect(labelsAt(h, 2)).toEqual(['[5,10)', '[0,5)', '[5,10)']);
    expect(lossAt(h, 1)).toEqual([2.5 / 7.5, 2.5 / 7.5, 2.5 / 7.5]);
    expect(lossAt(h, 2)).toEqual([5 / 7.5, 5 / 7.5, 5 / 7.5]);
    const wide = buildHierarchy('x', { band: [100] }, ['1', '2']);
    expect(lossAt(wide, 1)).toEqual([1, 1]);
    expect(lossAt(buildHierarchy('x', { band: [10] }, ['4', '4.0']), 1)).toEqual([0, 0]);
  });

  it('truncates dates to ISO weeks across year ends, months, quarters and years', () => {
    const values = ['2020-12-31', '2021-01-03 10:20:00', '2024-12-30 05:00:00.123+00', null];
    const h = buildHierarchy('seen', { date: ['hour', 'day', 'week'] }, values);
    expect(h.names).toEqual(['value', 'hour', 'day', 'week', '*']);
    expect(labelsAt(h, 1)).toEqual(['2020-12-31T00', '2021-01-03T10', '2024-12-30T05', null]);
    expect(labelsAt(h, 2)).toEqual(['2020-12-31', '2021-01-03', '2024-12-30', null]);
    // Thursday 2020-12-31 and Sunday 2021-01-03 are both in 2020's week 53; Monday 2024-12-30 opens 2025.
    expect(labelsAt(h, 3)).toEqual(['2020-W53', '2020-W53', '2025-W01', null]);
    const span = Date.UTC(2024, 11, 30, 5, 0, 0, 123) - Date.UTC(2020, 11, 31);
    const day = 86_400_000;
    expect(lossAt(h, 1)).toEqual([3_600_000 / span, 3_600_000 / span, 3_600_000 / span, 0]);
    expect(lossAt(h, 3)).toEqual([(7 * day) / span, (7 * day) / span, (7 * day) / span, 0]);

    const c = buildHierarchy('seen', { date: ['month', 'quarter', 'year'] }, values);
    expect(labelsAt(c, 1)).toEqual(['2020-12', '2021-01', '2024-12', null]);
    expect(labelsAt(c, 2)).toEqual(['2020-Q4', '2021-Q1', '2024-Q4', null]);
    expect(labelsAt(c, 3)).toEqual(['2020', '2021', '2024', null]);
    expect(lossAt(c, 1)).toEqual([(31 * day) / span, (31 * day) / span, (31 * day) / span, 0]);
    expect(lossAt(c, 2)).toEqual([(92 * day) / span, (90 * day) / span, (92 * day) / span, 0]);
    expect(lossAt(c, 3)).toEqual([(366 * day) / span, (365 * day) / span, (366 * day) / span, 0]);
    // One instant: no span, nothing lost below `*`.
    expect(lossAt(buildHierarchy('d', { date: ['year'] }, ['2026-12-07']), 1)).toEqual([0]);
  });

  it('keeps prefixes, leaving shorter values as they are', () => {
    const values = ['12345', '12399', '129', '1', null, '12'];
    const h = buildHierarchy('zip', { prefix: [4, 2] }, values);
    expect(h.names).toEqual(['value', 'prefix 4', 'prefix 2', '*']);
    expect(labelsAt(h, 1)).toEqual(['1234*', '1239*', '129', '1', null, '12']);
    expect(labelsAt(h, 2)).toEqual(['12*', '12*', '12*', '1', null, '12*']);
    // 5 distinct non-null values: `12*` holds 4 of them.
    expect(lossAt(h, 1)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(lossAt(h, 2)).toEqual([3 / 4, 3 / 4, 3 / 4, 0, 0, 3 / 4]);
  });

  it('maps categories level by level and names the column and value a map lacks', () => {
    const spec: GeneraliserSpec = {
      map: [
        { cat: 'mammal', dog: 'mammal', oak: 'tree', pine: 'tree' },
        { mammal: 'living', tree: 'living' },
      ],
    };
    const h = buildHierarchy('species', spec, ['cat', 'oak', null, 'dog', 'pine']);
    expect(h.names).toEqual(['value', 'map 1', 'map 2', '*']);
    expect(labelsAt(h, 1)).toEqual(['mammal', 'tree', null, 'mammal', 'tree']);
    expect(labelsAt(h, 2)).toEqual(['living', 'living', null, 'living', 'living']);
    expect(lossAt(h, 1)).toEqual([1 / 3, 1 / 3, 0, 1 / 3, 1 / 3]);
    expect(lossAt(h, 2)).toEqual([1, 1, 0, 1, 1]);
    expectThrows(
      () => buildHierarchy('species', spec, ['cat', 'fern']),
      (e) => {
        expect(e).toBeInstanceOf(DataError);
        expect((e as DataError).location.column).toBe('species');
        expect((e as Error).message).toContain('species');
        expect((e as Error).message).toContain('fern');
      },
    );
    expectThrows(
      () =>
        buildHierarchy('species', { map: [{ cat: 'mammal', oak: 'plant' }, { mammal: 'x' }] }, [
          'oak',
        ]),
      (e) => expect((e as Error).message).toContain('plant'),
    );
  });

  it('keeps the most frequent values, ties by value, the rest `other`', () => {
    const h = buildHierarchy('f', { top: [2, 1] }, ['a', 'b', 'c', 'd', null], [5, 9, 5, 1, 7]);
    expect(h.names).toEqual(['value', 'top 2', 'top 1', '*']);
    expect(labelsAt(h, 1)).toEqual(['a', 'b', 'other', 'other', null]);
    expect(labelsAt(h, 2)).toEqual(['other', 'b', 'other', 'other', null]);
    expect(lossAt(h, 1)).toEqual([0, 0, 1 / 3, 1 / 3, 0]);
    expect(lossAt(h, 2)).toEqual([2 / 3, 0, 2 / 3, 2 / 3, 0]);
  });

  it('names the field of a malformed spec', () => {
    const cases: [GeneraliserSpec, string][] = [
      [{ band: [10, 15] }, 'generalise.band'],
      [{ band: [10, 10] }, 'generalise.band'],
      [{ band: [0] }, 'generalise.band'],
      [{ band: [] }, 'generalise.band'],
      [{ band: [10], origin: Number.NaN }, 'generalise.origin'],
      [{ date: ['day', 'hour'] }, 'generalise.date'],
      [{ date: ['week', 'month'] }, 'generalise.date'],
      [{ date: ['fortnight' as 'day'] }, 'generalise.date'],
      [{ prefix: [2, 3] }, 'generalise.prefix'],
      [{ prefix: [1.5] }, 'generalise.prefix'],
      [{ top: [3, 3] }, 'generalise.top'],
      [{ map: ['x' as unknown as Record<string, string>] }, 'generalise.map'],
      [{} as GeneraliserSpec, 'generalise'],
    ];
    for (const [spec, field] of cases) {
      expectThrows(
        () => buildHierarchy('c', spec, ['1']),
        (e) => {
          expect(e).toBeInstanceOf(InvalidArgumentError);
          expect((e as InvalidArgumentError).field).toBe(field);
        },
      );
    }
  });

  it('names the column and value that is not a number or not a date', () => {
    for (const [spec, bad] of [
      [{ band: [10] }, 'ten'],
      [{ band: [10] }, ''],
      [{ date: ['day'] }, '2026-02-30'],
      [{ date: ['day'] }, 'yesterday'],
    ] as [GeneraliserSpec, string][]) {
      expectThrows(
        () =>
          buildHierarchy(
            'when',
            spec,
            ['1', bad].filter((v) => 'band' in spec || v !== '1'),
          ),
        (e) => {
          expect(e).toBeInstanceOf(DataError);
          expect((e as Error).message).toContain('when');
          expect((e as Error).message).toContain(JSON.stringify(bad));
        },
      );
    }
  });
});

describe('generaliseSql', () => {
  it('gives in DuckDB exactly the labels of every level', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    const rows = async (sql: string): Promise<unknown[][]> =>
      (await con.runAndReadAll(sql)).getRowsJS() as unknown[][];
    try {
      await con.run(
        `CREATE TABLE t (n DOUBLE, i INTEGER, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, s VARCHAR)`,
      );
      const data: string[] = [
        `(-5, -11, '2020-12-31', '2021-01-03 23:59:59', '2019-11-24 00:03:13.442536+00', 'it''s')`,
        `(0, 0, '2021-01-03', '2021-01-04 00:00:00', '2024-12-30 23:00:00+00', 'abcd')`,
        `(9.99, 10, '2024-12-30', '2020-12-31 12:30:00.25', '2026-12-07 13:45:00+00', 'abc')`,
        `(10, 20, '2026-12-07', '2024-12-29 01:00:00', '2021-01-01 00:00:00+00', 'é😀xy')`,
        `(-10, -20, '2027-01-01', '2026-03-31 08:00:00', '2020-02-29 06:00:00+00', 'say "hi"')`,
        `(19.5, 7, '2000-02-29', '2026-04-01 00:00:00', '2026-10-01 00:00:00+00', 'abcd')`,
        `(NULL, NULL, NULL, NULL, NULL, NULL)`,
        `(0.1, 3, '2020-12-28', '2026-12-31 23:00:00', '2015-12-31 22:00:00+00', 'ab')`,
      ];
      await con.run(`INSERT INTO t VALUES ${data.join(', ')}`);
      const columns: [string, GeneraliserSpec][] = [
        ['n', { band: [5, 10, 40] }],
        ['n', { band: [0.5, 2.5], origin: -0.25 }],
        ['i', { band: [10, 20], origin: 5 }],
        ['d', { date: ['day', 'month', 'quarter', 'year'] }],
        ['d', { date: ['week'] }],
        ['ts', { date: ['hour', 'day', 'week'] }],
        ['tz', { date: ['hour', 'month', 'year'] }],
        ['s', { prefix: [3, 2, 1] }],
        [
          's',
          {
            map: [
              { "it's": 'q', abcd: 'a', abc: 'a', 'é😀xy': 'u', 'say "hi"': 'q', ab: 'a' },
              { q: "x'", a: "x'", u: 'y' },
            ],
          },
        ],
        ['s', { top: [3, 1] }],
      ];
      for (const [column, spec] of columns) {
        const distinct = await rows(
          `SELECT CAST(${column} AS VARCHAR) AS v, count(*) FROM t GROUP BY 1 ORDER BY 1 NULLS FIRST`,
        );
        const values = distinct.map((r) => r[0] as string | null);
        const h = buildHierarchy(
          column,
          spec,
          values,
          distinct.map((r) => Number(r[1])),
        );
        for (let level = 0; level < h.levels; level++) {
          const got = await rows(
            `SELECT CAST(${column} AS VARCHAR), ${generaliseSql(h, level, column)} FROM t`,
          );
          const byValue = new Map(got.map((r) => [r[0] as string | null, r[1] as string | null]));
          expect([...byValue.keys()].sort()).toEqual([...values].sort());
          values.forEach((v, i) => {
            expect(
              byValue.get(v),
              `${column} ${JSON.stringify(spec)} level ${level} value ${v}`,
            ).toBe(h.labels[level][h.groupOf[level][i]]);
          });
        }
      }
      // A value the map hierarchy never saw fails the export rather than slipping through.
      const h = buildHierarchy('s', { map: [{ a: 'x' }] }, ['a']);
      await expect(rows(`SELECT ${generaliseSql(h, 1, sqlLiteral('b'))}`)).rejects.toThrow(/s: /);
    } finally {
      con.closeSync();
      inst.closeSync();
    }
  });

  it('refuses a level the hierarchy lacks', () => {
    const h = buildHierarchy('x', { top: [1] }, ['a']);
    expectThrows(
      () => generaliseSql(h, 3, 'x'),
      (e) => expect((e as InvalidArgumentError).field).toBe('level'),
    );
  });
});
