/**
 * Property test of the point-in-time join: on many seeded random repositories the DuckDB store
 * agrees with a brute-force join written from the semantics in offline-store.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../core/random.js';
import type { FeatureRepository, FeatureViewDefinition } from './feature-types.js';
import { DuckDBOfflineFeatureStore } from './offline-store.js';

let dir: string;
const store = new DuckDBOfflineFeatureStore({ threads: 2 });
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiban-offline-property-'));
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** One feature row of a view: keys, event and created time (seconds), and a unique value. */
interface FeatureRow {
  keys: string[];
  ts: number | null;
  created: number | null;
  value: number;
}

interface ViewCase {
  name: string;
  keyColumns: string[];
  ttl: number;
  withCreated: boolean;
  rows: FeatureRow[];
}

interface EntityRow {
  keys: Record<string, string>;
  ts: number | null;
}

/** Seconds as written to a file: epoch seconds, or ISO-8601 text when `iso`. */
const timeCell = (t: number, iso: boolean): string =>
  iso ? new Date(t * 1000).toISOString() : String(t);

/**
 * The values that may stand in row `row` for a view: the set of values of the rows tied for the
 * winner (equal event and created time), or [null] when none qualifies or it has expired.
 */
function bruteForce(v: ViewCase, row: EntityRow): (number | null)[] {
  if (row.ts === null) return [null];
  const rowTs = row.ts;
  const candidates = v.rows.filter(
    (f) =>
      f.ts !== null &&
      f.ts <= rowTs &&
      v.keyColumns.every((k, i) => row.keys[k] !== '' && row.keys[k] === f.keys[i]),
  );
  if (candidates.length === 0) return [null];
  const rank = (f: FeatureRow): [number, number] => [
    f.ts!,
    v.withCreated && f.created !== null ? f.created : Number.NEGATIVE_INFINITY,
  ];
  let best = rank(candidates[0]!);
  for (const f of candidates) {
    const r = rank(f);
    if (r[0] > best[0] || (r[0] === best[0] && r[1] > best[1])) best = r;
  }
  if (v.ttl > 0 && rowTs - best[0] >= v.ttl) return [null];
  return candidates
    .filter((f) => {
      const r = rank(f);
      return r[0] === best[0] && r[1] === best[1];
    })
    .map((f) => f.value);
}

const ENTITIES = [
  { name: 'user', column: 'user_id' },
  { name: 'item', column: 'item_id' },
];

/** One random case: two or three views (one keyed by user and item), an entity file, the join. */
async function runCase(seed: number): Promise<number> {
  const random = new Random(seed);
  const keyType = random.next() < 0.5 ? 'string' : 'int64';
  // Keys 0..K-1 have feature rows; K..K+1 never do.
  const keyCount = 2 + random.nextInt(4);
  const key = (i: number): string => (keyType === 'string' ? `k${i}` : String(i * 7 - 3));
  const span = 20 + random.nextInt(40);
  const views: ViewCase[] = [];
  const viewCount = 2 + random.nextInt(2);
  for (let v = 0; v < viewCount; v++) {
    const keyColumns = v === 1 ? ['user_id', 'item_id'] : ['user_id'];
    const withCreated = random.next() < 0.7;
    const ttl = random.next() < 0.3 ? 0 : 1 + random.nextInt(10);
    const rows: FeatureRow[] = [];
    const n = random.nextInt(40);
    for (let r = 0; r < n; r++) {
      // Small time ranges make ties in event time (and in created time) frequent; some rows lie
      // past every entity row (the future); created time may be long after the event (late).
      const ts = random.next() < 0.03 ? null : random.nextInt(span + 10);
      const created =
        random.next() < 0.1 ? null : (ts ?? 0) + (random.next() < 0.2 ? 100 : random.nextInt(3));
      rows.push({
        // '' is an empty cell: a null key, which matches nothing.
        keys: keyColumns.map(() => (random.next() < 0.03 ? '' : key(random.nextInt(keyCount)))),
        ts,
        created,
        value: v * 1000 + r,
      });
    }
    views.push({ name: `v${v}`, keyColumns, ttl, withCreated, rows });
  }
  // Entity rows sometimes start late, leaving feature rows that expired before the first one.
  const entityStart = random.next() < 0.5 ? random.nextInt(span >> 1) : 0;
  const entityRows: EntityRow[] = [];
  const m = 1 + random.nextInt(30);
  for (let r = 0; r < m; r++) {
    if (r > 0 && random.next() < 0.15) {
      entityRows.push(entityRows[random.nextInt(r)]!); // a duplicate row
      continue;
    }
    entityRows.push({
      keys: {
        user_id: random.next() < 0.03 ? '' : key(random.nextInt(keyCount + 2)),
        item_id: key(random.nextInt(keyCount + 2)),
      },
      ts: random.next() < 0.05 ? null : entityStart + random.nextInt(span - entityStart),
    });
  }

  const caseDir = await mkdtemp(join(dir, `case-${seed}-`));
  const iso = random.next() < 0.5;
  const repo: FeatureRepository = {
    root: caseDir,
    entities: new Map(
      ENTITIES.map((e) => [e.name, { name: e.name, joinKey: e.column, type: keyType }]),
    ),
    sources: new Map(),
    featureViews: new Map(),
    featureServices: new Map(),
  };
  for (const v of views) {
    const path = join(caseDir, `${v.name}.csv`);
    const header = [...v.keyColumns, 'event_time', ...(v.withCreated ? ['created'] : []), 'x'];
    const lines = v.rows.map((f) =>
      [
        ...f.keys,
        f.ts === null ? '' : timeCell(f.ts, iso),
        ...(v.withCreated ? [f.created === null ? '' : timeCell(f.created, !iso)] : []),
        f.value,
      ].join(','),
    );
    await writeFile(path, `${[header.join(','), ...lines].join('\n')}\n`);
    repo.sources.set(v.name, {
      name: v.name,
      path,
      timestamp: 'event_time',
      ...(v.withCreated ? { createdTimestamp: 'created' } : {}),
    });
    const definition: FeatureViewDefinition = {
      name: v.name,
      entities: v.keyColumns.map((c) => ENTITIES.find((e) => e.column === c)!.name),
      source: v.name,
      ttlSeconds: v.ttl,
      features: [{ name: 'x', type: 'int64' }],
      tags: {},
    };
    repo.featureViews.set(v.name, definition);
  }
  const entities = join(caseDir, 'entities.csv');
  const entityIso = random.next() < 0.5;
  await writeFile(
    entities,
    `${['row', 'user_id', 'item_id', 'ts'].join(',')}\n${entityRows
      .map((e, i) =>
        [i, e.keys.user_id, e.keys.item_id, e.ts === null ? '' : timeCell(e.ts, entityIso)].join(
          ',',
        ),
      )
      .join('\n')}\n`,
  );
  const output = join(caseDir, 'out.csv');
  const order = views.map((v) => v.name).sort(() => random.next() - 0.5);
  await store.historical({
    repo,
    entities,
    timestampColumn: 'ts',
    output,
    features: order.map((v) => ({ view: v, feature: 'x' })),
  });
  const lines = (await readFile(output, 'utf8')).trimEnd().split('\n');
  expect(lines[0]).toBe(
    ['row', 'user_id', 'item_id', 'ts', ...order.map((v) => `${v}__x`)].join(','),
  );
  expect(lines.length - 1).toBe(entityRows.length);
  let checked = 0;
  for (const [i, e] of entityRows.entries()) {
    const cells = lines[i + 1]!.split(',');
    expect(cells[0], `case ${seed}: input order`).toBe(String(i));
    for (const [j, name] of order.entries()) {
      const cell = cells[4 + j]!;
      const got = cell === '' ? null : Number(cell);
      const allowed = bruteForce(views.find((v) => v.name === name)!, e);
      if (!allowed.includes(got))
        throw new Error(
          `case ${seed}, row ${i} (${JSON.stringify(e)}), view ${name}: got ${got}, expected one of ${JSON.stringify(allowed)}`,
        );
      if (got !== null) checked++;
    }
  }
  await rm(caseDir, { recursive: true, force: true });
  return checked;
}

describe('point-in-time join, against a brute-force join', () => {
  it('agrees on 60 random repositories (ties, created-time dedup, TTL edges, late and future rows, duplicate rows, null times and keys, string and integer composite keys)', async () => {
    let values = 0;
    for (let seed = 1; seed <= 60; seed++) values += await runCase(seed);
    // The cases exercise found values, not only nulls.
    expect(values).toBeGreaterThan(200);
  }, 120_000);
});
