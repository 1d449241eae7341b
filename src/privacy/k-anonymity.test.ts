import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { buildHierarchy, generaliseSql, type Hierarchy } from './generalisers.js';
import { findKAnonymous, type KAnonymityOptions, type TupleHistogram } from './k-anonymity.js';

/**
 * 30 people in 8 cells of (sex, decade, zip area). Within a cell every age and every zip
 * differs, so a class is a cell only once age is banded by 10 and zip cut to 4 digits; the two
 * (F, 40s) cells have 3 people, the others 4. Diagnoses: (M, 20s, 1305) all 'flu' (0), so that
 * cell is not 2-diverse; (F, 40s, 1308) has none recorded (-1), so it is exempt; elsewhere they
 * alternate 1, 2.
 */
function people(): { age: string[]; zip: string[]; sex: string[]; diagnosis: number[] } {
  const out = {
    age: [] as string[],
    zip: [] as string[],
    sex: [] as string[],
    diagnosis: [] as number[],
  };
  for (const sex of ['M', 'F']) {
    for (const decade of [20, 40]) {
      for (const area of ['1305', '1308']) {
        const size = sex === 'F' && decade === 40 ? 3 : 4;
        for (let i = 0; i < size; i++) {
          out.sex.push(sex);
          out.age.push(String(decade + 2 * i + 1));
          out.zip.push(`${area}${i + 1}`);
          const flu = sex === 'M' && decade === 20 && area === '1305';
          const none = sex === 'F' && decade === 40 && area === '1308';
          out.diagnosis.push(flu ? 0 : none ? -1 : 1 + (i % 2));
        }
      }
    }
  }
  return out;
}

/** Hierarchies over the distinct values and a histogram of one tuple per person. */
function fixture(): { columns: Hierarchy[]; histogram: TupleHistogram } {
  const p = people();
  const distinct = (xs: string[]): string[] => [...new Set(xs)];
  const columns = [
    // Ages 21…47: band 10 loses 10/26, band 20 (20/26) makes the same classes here.
    buildHierarchy('age', { band: [10, 20] }, distinct(p.age)),
    // 8 zips, 4 per 4-digit prefix: prefix 4 loses 3/7.
    buildHierarchy('zip', { prefix: [4] }, distinct(p.zip)),
    buildHierarchy('sex', { map: [{ M: 'person', F: 'person' }] }, distinct(p.sex)),
  ];
  const columnsData = [p.age, p.zip, p.sex];
  const codes = columns.map((h, c) => Int32Array.from(columnsData[c], (v) => h.values.indexOf(v)));
  return {
    columns,
    histogram: {
      codes,
      counts: new Float64Array(p.age.length).fill(1),
      sensitive: Int32Array.from(p.diagnosis),
    },
  };
}

/**
 * Every node evaluated the plain way (string keys, objects, no pruning): the reference the
 * search must agree with.
 */
function bruteForce(columns: Hierarchy[], histogram: TupleHistogram, o: KAnonymityOptions) {
  const tuples = histogram.counts.length;
  const rows = histogram.counts.reduce((a, b) => a + b, 0);
  let best: { levels: number[]; loss: number; suppressed: number } | undefined;
  const visit = (levels: number[]): void => {
    if (levels.length < columns.length) {
      const c = levels.length;
      for (let v = o.minLevel?.[c] ?? 0; v <= (o.maxLevel?.[c] ?? columns[c].levels - 1); v++) {
        visit([...levels, v]);
      }
      return;
    }
    const classes = new Map<string, { rows: number; sensitive: Set<number>; tuples: number[] }>();
    for (let t = 0; t < tuples; t++) {
      const key = columns.map((h, c) => h.groupOf[levels[c]][histogram.codes[c][t]]).join(',');
      const cls = classes.get(key) ?? { rows: 0, sensitive: new Set<number>(), tuples: [] };
      cls.rows += histogram.counts[t];
      if (histogram.sensitive && histogram.sensitive[t] >= 0)
        cls.sensitive.add(histogram.sensitive[t]);
      cls.tuples.push(t);
      classes.set(key, cls);
    }
    let suppressed = 0;
    let lossSum = 0;
    for (const cls of classes.values()) {
      const bad =
        cls.rows < o.k || (o.l !== undefined && cls.sensitive.size > 0 && cls.sensitive.size < o.l);
      for (const t of cls.tuples) {
        if (bad) {
          suppressed += histogram.counts[t];
          lossSum += histogram.counts[t];
        } else {
          const l = columns.map(
            (h, c) => h.loss[levels[c]][h.groupOf[levels[c]][histogram.codes[c][t]]],
          );
          lossSum += (histogram.counts[t] * l.reduce((a, b) => a + b, 0)) / columns.length;
        }
      }
    }
    const loss = lossSum / rows;
    if (suppressed > (o.maxSuppression ?? 0.05) * rows) return;
    if (
      best === undefined ||
      loss < best.loss - 1e-12 ||
      (Math.abs(loss - best.loss) <= 1e-12 && suppressed < best.suppressed)
    ) {
      best = { levels, loss, suppressed };
    }
  };
  visit([]);
  return best;
}

describe('findKAnonymous', () => {
  const base = (10 / 26 + 3 / 7) / 3;

  it('bands age by 10 and cuts zips to 4 digits for k = 3 with nothing suppressed', () => {
    const { columns, histogram } = fixture();
    const options = { k: 3, maxSuppression: 0 };
    const s = findKAnonymous(columns, histogram, options);
    expect(s.levels).toEqual([1, 1, 0]);
    expect(s.levelNames).toEqual(['band 10', 'prefix 4', 'value']);
    expect(s.rows).toBe(30);
    expect(s.suppressedRows).toBe(0);
    expect(s.suppression).toBe(0);
    expect(s.classes).toBe(8);
    expect(s.smallestClass).toBe(3);
    expect(s.averageClassSize).toBe(30 / 8);
    expect(s.loss).toBeCloseTo(base, 12);
    expect(s.discernibility).toBe(6 * 16 + 2 * 9);
    expect(Array.from(s.suppressedTuples)).toEqual(Array(30).fill(0));
    expect(s.latticeSize).toBe(4 * 3 * 3);
    expect(s.nodesEvaluated).toBeLessThanOrEqual(s.latticeSize);
    expect(bruteForce(columns, histogram, options)?.levels).toEqual(s.levels);
  });

  it('merges the two zip areas when l = 2 and the all-flu cell may not be suppressed', () => {
    const { columns, histogram } = fixture();
    const options = { k: 3, l: 2, maxSuppression: 0.05 };
    const s = findKAnonymous(columns, histogram, options);
    // (1,1,0) would suppress the 4 'flu' rows (13%); merging zips costs (10/26 + 1)/3, less than
    // merging decades ((1 + 3/7)/3) or sexes ((10/26 + 3/7 + 1)/3).
    expect(s.levels).toEqual([1, 2, 0]);
    expect(s.suppressedRows).toBe(0);
    expect(s.classes).toBe(4);
    expect(s.loss).toBeCloseTo((10 / 26 + 1) / 3, 12);
    expect(bruteForce(columns, histogram, options)?.levels).toEqual(s.levels);
  });

  it('prefers suppressing the all-flu cell when the bound allows it, as loss is not monotone', () => {
    const { columns, histogram } = fixture();
    const options = { k: 3, l: 2, maxSuppression: 0.15 };
    const s = findKAnonymous(columns, histogram, options);
    expect(s.levels).toEqual([1, 1, 0]);
    expect(s.suppressedRows).toBe(4);
    expect(s.classes).toBe(7);
    expect(s.loss).toBeCloseTo((26 * base + 4) / 30, 12);
    // The first four people are the (M, 20s, 1305) cell.
    expect(Array.from(s.suppressedTuples.subarray(0, 5))).toEqual([1, 1, 1, 1, 0]);
    expect(s.discernibility).toBe(5 * 16 + 2 * 9 + 4 * 30);
    expect(bruteForce(columns, histogram, options)?.levels).toEqual(s.levels);
  });

  it('goes coarser when the suppression bound forbids dropping the small cells', () => {
    const { columns, histogram } = fixture();
    // k = 4 leaves the two 3-person (F, 40s) cells short: 6 rows, 20%.
    const strict = findKAnonymous(columns, histogram, { k: 4, maxSuppression: 0.1 });
    expect(strict.levels).toEqual([1, 2, 0]);
    expect(strict.suppressedRows).toBe(0);
    const loose = findKAnonymous(columns, histogram, { k: 4, maxSuppression: 0.2 });
    expect(loose.levels).toEqual([1, 1, 0]);
    expect(loose.suppressedRows).toBe(6);
    expect(loose.smallestClass).toBe(4);
    for (const o of [
      { k: 4, maxSuppression: 0.1 },
      { k: 4, maxSuppression: 0.2 },
      { k: 5, maxSuppression: 0.3 },
      { k: 2, l: 2, maxSuppression: 0 },
    ]) {
      const s = findKAnonymous(columns, histogram, o);
      expect(bruteForce(columns, histogram, o)?.levels, JSON.stringify(o)).toEqual(s.levels);
    }
  });

  it('keeps to minLevel and maxLevel', () => {
    const { columns, histogram } = fixture();
    const s = findKAnonymous(columns, histogram, { k: 3, maxSuppression: 0, minLevel: [0, 0, 1] });
    expect(s.levels).toEqual([1, 1, 1]);
    expect(s.latticeSize).toBe(4 * 3 * 2);
    const capped = findKAnonymous(columns, histogram, {
      k: 3,
      maxSuppression: 0.5,
      maxLevel: [0, 2, 2],
    });
    expect(capped.levels[0]).toBe(0);
  });

  it('keys classes by string when the groups overflow 2^53', () => {
    // 500^6 ≈ 1.6e16 combinations at the finest node.
    const values = Array.from({ length: 500 }, (_, i) => `v${String(i).padStart(3, '0')}`);
    const columns = Array.from({ length: 6 }, (_, c) =>
      buildHierarchy(`c${c}`, { top: [250] }, values),
    );
    const histogram = {
      codes: columns.map(() => Int32Array.from(values, (_, i) => i)),
      counts: new Float64Array(500).fill(1),
    };
    const exact = findKAnonymous(columns, histogram, { k: 1, maxSuppression: 0 });
    expect(exact.levels).toEqual([0, 0, 0, 0, 0, 0]);
    expect(exact.classes).toBe(500);
    expect(exact.loss).toBe(0);
    const options = { k: 2, maxSuppression: 0.6 };
    const paired = findKAnonymous(columns, histogram, options);
    expect(bruteForce(columns, histogram, options)?.levels).toEqual(paired.levels);
    expect(paired.suppressedRows).toBeLessThanOrEqual(300);
  });

  it('says when no node meets the bound, with the least suppression possible', () => {
    const { columns, histogram } = fixture();
    expect(() => findKAnonymous(columns, histogram, { k: 31 })).toThrow(DataError);
    expect(() => findKAnonymous(columns, histogram, { k: 31 })).toThrow(/1\.0000/);
  });

  it('names the option at fault', () => {
    const { columns, histogram } = fixture();
    const field = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return e instanceof InvalidArgumentError ? e.field : `not InvalidArgumentError: ${e}`;
      }
      return undefined;
    };
    expect(field(() => findKAnonymous(columns, histogram, { k: 0 }))).toBe('k');
    expect(field(() => findKAnonymous(columns, histogram, { k: 2, l: 0 }))).toBe('l');
    const { sensitive: _, ...plain } = histogram;
    expect(field(() => findKAnonymous(columns, plain, { k: 2, l: 2 }))).toBe('l');
    expect(field(() => findKAnonymous(columns, histogram, { k: 2, maxSuppression: 1.5 }))).toBe(
      'maxSuppression',
    );
    expect(field(() => findKAnonymous(columns, histogram, { k: 2, maxLevel: [9, 0, 0] }))).toBe(
      'maxLevel',
    );
    // Six columns of 8 levels: 8^6 = 262,144 nodes.
    const wide = Array.from({ length: 6 }, (_, c) =>
      buildHierarchy(`c${c}`, { prefix: [6, 5, 4, 3, 2, 1] }, ['abcdefg']),
    );
    const one = { codes: wide.map(() => Int32Array.of(0)), counts: Float64Array.of(1) };
    try {
      findKAnonymous(wide, one, { k: 1 });
      expect.unreachable();
    } catch (e) {
      expect((e as InvalidArgumentError).field).toBe('columns');
      expect((e as Error).message).toContain('262144');
    }
  });
});

describe('findKAnonymous on Open Bandit (men + women)', () => {
  it('releases only classes of at least 10 rows with 2 distinct clicked items', async () => {
    const file = (p: string): string =>
      fileURLToPath(new URL(`../../datasets/open-bandit-random/${p}`, import.meta.url));
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    const rows = async (sql: string): Promise<unknown[][]> =>
      (await con.runAndReadAll(sql)).getRowsJS() as unknown[][];
    try {
      const paths = [file('men/men.csv'), file('women/women.csv')].map((p) => `'${p}'`);
      await con.run(
        `CREATE TABLE ob AS SELECT user_feature_0 AS f0, user_feature_1 AS f1, user_feature_2 AS f2,
           user_feature_3 AS f3, CASE WHEN click = '1' THEN item_id END AS clicked
         FROM read_csv([${paths.join(', ')}], header = true, all_varchar = true)`,
      );
      const qi = ['f0', 'f1', 'f2', 'f3'];
      // 3, 5, 9 and 8 distinct values: keep fewer of the most frequent at each level.
      const specs = [{ top: [1] }, { top: [2, 1] }, { top: [4, 2, 1] }, { top: [4, 2, 1] }];
      const columns: Hierarchy[] = [];
      for (const [c, col] of qi.entries()) {
        const d = await rows(`SELECT ${col}, count(*) FROM ob GROUP BY 1 ORDER BY 1`);
        columns.push(
          buildHierarchy(
            col,
            specs[c],
            d.map((r) => r[0] as string | null),
            d.map((r) => Number(r[1])),
          ),
        );
      }
      const index = columns.map((h) => new Map(h.values.map((v, i) => [v, i])));
      const items = new Map<string, number>();
      const grouped = await rows(`SELECT f0, f1, f2, f3, clicked, count(*) FROM ob GROUP BY ALL`);
      const codes = qi.map(() => new Int32Array(grouped.length));
      const counts = new Float64Array(grouped.length);
      const sensitive = new Int32Array(grouped.length);
      const tupleOf = new Map<string, number>();
      grouped.forEach((r, t) => {
        for (let c = 0; c < 4; c++) codes[c][t] = index[c].get(r[c] as string | null) as number;
        const item = r[4] as string | null;
        if (item !== null && !items.has(item)) items.set(item, items.size);
        sensitive[t] = item === null ? -1 : (items.get(item) as number);
        counts[t] = Number(r[5]);
        tupleOf.set(JSON.stringify(r.slice(0, 5)), t);
      });
      const s = findKAnonymous(
        columns,
        { codes, counts, sensitive },
        {
          k: 10,
          l: 2,
          maxSuppression: 0.05,
        },
      );
      const options = { k: 10, l: 2, maxSuppression: 0.05 };
      expect(bruteForce(columns, { codes, counts, sensitive }, options)?.levels).toEqual(s.levels);
      console.log(
        `Open Bandit: levels ${JSON.stringify(s.levels)} (${s.levelNames.join(', ')}), suppressed ${s.suppressedRows}/${s.rows} (${(100 * s.suppression).toFixed(2)}%), ${s.classes} classes (smallest ${s.smallestClass}), loss ${s.loss.toFixed(4)}, ${s.nodesEvaluated}/${s.latticeSize} nodes evaluated`,
      );

      // Recomputed from the rows: each row's labels by the export's SQL, its suppression by its tuple.
      const labelled = await rows(
        `SELECT f0, f1, f2, f3, clicked, ${qi.map((col, c) => generaliseSql(columns[c], s.levels[c], col)).join(', ')} FROM ob`,
      );
      expect(labelled.length).toBe(20_000);
      const released = new Map<string, { rows: number; items: Set<string> }>();
      let suppressed = 0;
      for (const r of labelled) {
        const t = tupleOf.get(JSON.stringify(r.slice(0, 5))) as number;
        if (s.suppressedTuples[t] === 1) {
          suppressed++;
          continue;
        }
        const key = JSON.stringify(r.slice(5));
        const cls = released.get(key) ?? { rows: 0, items: new Set<string>() };
        cls.rows++;
        if (r[4] !== null) cls.items.add(r[4] as string);
        released.set(key, cls);
      }
      // Suppression is of whole classes, and of exactly those that fail k or l over all rows.
      const all = new Map<string, { rows: number; items: Set<string>; suppressed: Set<number> }>();
      for (const r of labelled) {
        const key = JSON.stringify(r.slice(5));
        const cls = all.get(key) ?? {
          rows: 0,
          items: new Set<string>(),
          suppressed: new Set<number>(),
        };
        cls.rows++;
        if (r[4] !== null) cls.items.add(r[4] as string);
        cls.suppressed.add(
          s.suppressedTuples[tupleOf.get(JSON.stringify(r.slice(0, 5))) as number],
        );
        all.set(key, cls);
      }
      for (const cls of all.values()) {
        const fails = cls.rows < 10 || (cls.items.size > 0 && cls.items.size < 2);
        expect([...cls.suppressed]).toEqual([fails ? 1 : 0]);
      }
      expect(suppressed).toBe(s.suppressedRows);
      expect(suppressed / labelled.length).toBeLessThanOrEqual(0.05);
      expect(released.size).toBe(s.classes);
      for (const cls of released.values()) {
        expect(cls.rows).toBeGreaterThanOrEqual(10);
        expect(cls.items.size === 0 || cls.items.size >= 2).toBe(true);
      }
    } finally {
      con.closeSync();
      inst.closeSync();
    }
  });
});
