import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../../test/fixtures/temp-dir.js';
import { DataError, InvalidArgumentError } from '../core/errors.js';
import { sqlLiteral } from '../data/duckdb-sql.js';
import { readVectors } from './read-vectors.js';
import { VectorAttributes } from './vector-attributes.js';

/** `.fvecs` bytes of the given rows (each row its own dimension, so ragged files can be made). */
function fvecs(rows: number[][]): Uint8Array {
  const bytes = new Uint8Array(rows.reduce((s, r) => s + 4 + 4 * r.length, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const row of rows) {
    view.setInt32(at, row.length, true);
    at += 4;
    for (const x of row) {
      view.setFloat32(at, x, true);
      at += 4;
    }
  }
  return bytes;
}

/** `.npy` (version 1) bytes with the given header fields and float32 data. */
function npy(descr: string, fortran: boolean, shape: number[], data: number[]): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const bytes = new Uint8Array(10 + header.length + 4 * data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(bytes.buffer);
  view.setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  data.forEach((x, i) => view.setFloat32(10 + header.length + 4 * i, x, true));
  return bytes;
}

async function expectDataError(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  for (const part of parts) expect((error as Error).message).toContain(part);
}

describe('readVectors', () => {
  const tmp = useTempDir('kiban-read-vectors-');

  it('reads .fvecs rows with row numbers as ids', async () => {
    const file = join(tmp.path, 'a.fvecs');
    await writeFile(
      file,
      fvecs([
        [1, 2, 3],
        [4, 5, 6.5],
      ]),
    );
    const got = await readVectors(file);
    expect(got.ids).toBeNull();
    expect(got.dim).toBe(3);
    expect([...got.vectors]).toEqual([1, 2, 3, 4, 5, 6.5]);
  });

  it('names the file and row of a ragged, truncated or NaN .fvecs row', async () => {
    const ragged = join(tmp.path, 'ragged.fvecs');
    await writeFile(ragged, fvecs([[1, 2], [3, 4], [5]]));
    await expectDataError(readVectors(ragged), ragged, 'row 3', 'ragged');
    const same = join(tmp.path, 'ragged2.fvecs');
    await writeFile(same, fvecs([[1, 2], [3, 4, 5, 6], [7]]));
    await expectDataError(readVectors(same), 'row 2', 'dimension 4');
    const nan = join(tmp.path, 'nan.fvecs');
    await writeFile(
      nan,
      fvecs([
        [1, 2],
        [3, Number.NaN],
      ]),
    );
    await expectDataError(readVectors(nan), 'row 2', 'component 2 is NaN');
    const truncated = join(tmp.path, 'short.fvecs');
    await writeFile(
      truncated,
      fvecs([
        [1, 2],
        [3, 4],
      ]).subarray(0, 20),
    );
    await expectDataError(readVectors(truncated), 'row 2', 'truncated');
    await expectDataError(readVectors(join(tmp.path, 'none.fvecs')), 'file not found');
  });

  it('reads a float32 C-order 2-D .npy and refuses other dtypes, orders and shapes', async () => {
    const file = join(tmp.path, 'a.npy');
    await writeFile(file, npy('<f4', false, [2, 2], [1, -2, 3.25, 4]));
    expect(await readVectors(file)).toEqual({
      ids: null,
      dim: 2,
      vectors: new Float32Array([1, -2, 3.25, 4]),
      attributes: expect.any(VectorAttributes),
    });
    const f8 = join(tmp.path, 'f8.npy');
    await writeFile(f8, npy('<f8', false, [1, 2], [1, 2, 3, 4]));
    await expectDataError(readVectors(f8), f8, 'dtype "<f8"', 'float32');
    const fortran = join(tmp.path, 'fortran.npy');
    await writeFile(fortran, npy('<f4', true, [2, 2], [1, 2, 3, 4]));
    await expectDataError(readVectors(fortran), 'Fortran');
    const flat = join(tmp.path, 'flat.npy');
    await writeFile(flat, npy('<f4', false, [4], [1, 2, 3, 4]));
    await expectDataError(readVectors(flat), '2-D');
    const short = join(tmp.path, 'short.npy');
    await writeFile(short, npy('<f4', false, [3, 2], [1, 2, 3, 4]));
    await expectDataError(readVectors(short), 'needs 24');
    const inf = join(tmp.path, 'inf.npy');
    await writeFile(inf, npy('<f4', false, [2, 2], [1, 2, 3, Number.POSITIVE_INFINITY]));
    await expectDataError(readVectors(inf), 'row 2', 'Infinity');
    const text = join(tmp.path, 'text.npy');
    await writeFile(text, 'id,vector\n');
    await expectDataError(readVectors(text), 'not a NumPy');
  });

  it('reads CSV with a JSON-array vector column and string ids', async () => {
    const file = join(tmp.path, 'a.csv');
    await writeFile(file, 'id,vector,title\nitem-1,"[1, 2, 3]",x\n007,"[-0.5,0,1e3]",y\n');
    const got = await readVectors(file);
    expect(got.ids).toEqual(['item-1', '007']);
    expect(got.dim).toBe(3);
    expect([...got.vectors]).toEqual([1, 2, 3, -0.5, 0, 1000]);
  });

  it('names the line of a bad CSV row: ragged, not a list, NaN, duplicate id, missing column', async () => {
    const cases: [string, string[]][] = [
      ['id,vector\na,"[1,2]"\nb,"[1,2,3]"\n', ['line 3', 'dimension 3', 'ragged']],
      ['id,vector\na,"[1,2]"\nb,hello\n', ['line 3', '"hello" is not a list of numbers']],
      ['id,vector\na,"[1,2]"\nb,"[1, x]"\n', ['line 3', '"[1, x]" is not a list of numbers']],
      ['id,vector\na,"[1,2]"\nb,"[1, 1e39]"\n', ['line 3', "beyond float32's range"]],
      ['id,vector\na,"[1,2]"\nb,"[1,nan]"\n', ['line 3', 'component 2 is NaN']],
      ['id,vector\na,"[1,2]"\na,"[3,4]"\n', ['line 3', 'id "a" also appears in line 2']],
      ['id,vector\na,"[1,2]"\n,"[3,4]"\n', ['line 3', 'empty id']],
      ['id,vec\na,"[1,2]"\n', ['missing required column "vector"']],
      ['id,vector\n', ['no data rows']],
    ];
    for (const [i, [text, parts]] of cases.entries()) {
      const file = join(tmp.path, `bad-${i}.csv`);
      await writeFile(file, text);
      await expectDataError(readVectors(file), file, ...parts);
    }
  });

  it('reads Parquet with a list column and refuses a ragged one, naming the row', async () => {
    const good = join(tmp.path, 'a.parquet');
    const ragged = join(tmp.path, 'ragged.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      await con.run(
        `COPY (SELECT * FROM (VALUES (10, [0.5, 1.5]::DOUBLE[]), (20, [2.5, 3.5]::DOUBLE[])) v(id, vector)) TO ${sqlLiteral(good)} (FORMAT parquet)`,
      );
      await con.run(
        `COPY (SELECT * FROM (VALUES ('x', [1.0, 2.0]::FLOAT[]), ('y', [1.0]::FLOAT[])) v(id, vector)) TO ${sqlLiteral(ragged)} (FORMAT parquet)`,
      );
    } finally {
      con.closeSync();
      instance.closeSync();
    }
    const got = await readVectors(good);
    expect(got.ids).toEqual(['10', '20']);
    expect([...got.vectors]).toEqual([0.5, 1.5, 2.5, 3.5]);
    await expectDataError(readVectors(ragged), ragged, 'row 2', 'ragged');
  });

  it('reads extra Parquet columns as attributes (null: no value) and refuses a missing one', async () => {
    const file = join(tmp.path, 'attrs.parquet');
    const instance = await DuckDBInstance.create(':memory:');
    const con = await instance.connect();
    try {
      await con.run(
        `COPY (SELECT * FROM (VALUES ('a', [1.0]::FLOAT[], 'stickers', 3), ('b', [2.0]::FLOAT[], NULL, 4)) v(id, vector, category, tier)) TO ${sqlLiteral(file)} (FORMAT parquet)`,
      );
    } finally {
      con.closeSync();
      instance.closeSync();
    }
    const got = await readVectors(file, { attributes: ['category', 'tier'] });
    expect(got.attributes.names).toEqual(['category', 'tier']);
    expect([got.attributes.get(0), got.attributes.get(1)]).toEqual([
      { category: 'stickers', tier: '3' },
      { tier: '4' },
    ]);
    expect((await readVectors(file)).attributes.names).toEqual([]);
    await expectDataError(readVectors(file, { attributes: ['colour'] }), 'colour');
    await expect(
      readVectors(join(tmp.path, 'none.fvecs'), {
        attributes: ['category'],
        attributesField: '--attributes',
      }),
    ).rejects.toThrow(/^--attributes: /);
    await expect(readVectors(file, { attributes: ['vector'] })).rejects.toThrow(/^attributes: /);
  });

  it('refuses a file whose format cannot be told', async () => {
    await expect(readVectors(join(tmp.path, 'a.txt'))).rejects.toThrow(InvalidArgumentError);
    await expect(readVectors(join(tmp.path, 'a.txt'))).rejects.toThrow(/format: .*\.fvecs/);
  });
});
