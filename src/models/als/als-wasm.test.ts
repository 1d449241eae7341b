import { describe, expect, it } from 'vitest';
import { Random } from '../../core/random.js';
import { CsrMatrix } from '../../data/csr-matrix.js';
import { createScratch, gramMatrix, solveRows, woodburyBasis } from './als-kernel.js';
import { AlsWasmEngine, type StreamChoice } from './als-wasm.js';

/**
 * A power-law log: users with 1–40 interactions (most of them short), items drawn with a
 * popularity skew, confidences from 1 to 5.
 */
function powerLawLog(users: number, items: number, seed: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const n = 1 + Math.floor(40 * rng.next() ** 3);
    for (let k = 0; k < n; k++) {
      rows.push(u);
      cols.push(Math.floor(items * rng.next() ** 2));
    }
  }
  const m = CsrMatrix.fromCoordinates(
    users,
    items,
    Int32Array.from(rows),
    Int32Array.from(cols),
    null,
  );
  return m.map((v) => Math.min(5, v));
}

/** An engine on `byUser` with factors seeded identically, or a failure when it is not built. */
function engineOn(
  byUser: CsrMatrix,
  f: number,
  threads: number,
  stream: StreamChoice,
): AlsWasmEngine {
  const engine = AlsWasmEngine.create(byUser, byUser.transpose(), f, threads, 3, stream);
  if (engine === null) throw new Error('the ALS kernel is not built (npm run build:wasm)');
  const rng = new Random(5);
  rng.fillGaussian(engine.factorsOf('users'), 0.1);
  rng.fillGaussian(engine.factorsOf('items'), 0.1);
  return engine;
}

describe('AlsWasmEngine', () => {
  const byUser = powerLawLog(3000, 400, 11);

  it('solves short rows exactly (Woodbury) and long rows by CG, as the JS kernel does', async () => {
    const f = 16;
    const engine = engineOn(byUser, f, 1, 'never');
    expect(engine.layout.users.rotate).toBe(true);
    expect(engine.layout.users.shortLimit).toBeGreaterThan(0);
    const items = Float32Array.from(engine.factorsOf('items'));
    const before = Float32Array.from(engine.factorsOf('users'));
    await engine.sweep({ side: 'users', alpha: 2, cgSteps: 3 }, 5);
    // The sweep may have rotated both sides into the eigenbasis of YᵀY + λI: compare scores.
    const users = Float32Array.from(engine.factorsOf('users'));
    const rotatedItems = Float32Array.from(engine.factorsOf('items'));
    await engine.close();
    // The exact solution of every row, by Cholesky on the full normal equations.
    const exact = Float32Array.from(before);
    const step = {
      factors: f,
      reg: 5,
      alpha: 2,
      cgSteps: 3,
      solver: 'exact' as const,
      indptr: byUser.indptr,
      indices: byUser.indices,
      values: byUser.values,
      x: exact,
      y: items,
      gram: gramMatrix(items, 400, f, 5),
      shortLimit: 0,
      basis: null,
    };
    solveRows(step, 0, byUser.rows, createScratch(f));
    const limit = engine.layout.users.shortLimit;
    let shortRows = 0;
    let worstShort = 0;
    let worstLong = 0;
    for (let u = 0; u < byUser.rows; u++) {
      const n = byUser.indptr[u + 1] - byUser.indptr[u];
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < 400; i++) {
        let got = 0;
        let want = 0;
        for (let a = 0; a < f; a++) {
          got += users[u * f + a] * rotatedItems[i * f + a];
          want += exact[u * f + a] * items[i * f + a];
        }
        diff = Math.max(diff, Math.abs(got - want));
        norm = Math.max(norm, Math.abs(want));
      }
      if (n <= limit) {
        shortRows++;
        worstShort = Math.max(worstShort, diff / norm);
      } else worstLong = Math.max(worstLong, diff / norm);
    }
    expect(shortRows).toBeGreaterThan(1000);
    // Float32 Woodbury against float64 Cholesky: agreement to a few parts in 10⁴; three CG
    // steps from a random start are visibly further from the exact answer.
    expect(worstShort).toBeLessThan(1e-3);
    expect(worstLong).toBeGreaterThan(worstShort);

    // The JavaScript kernel's Woodbury rows (unrotated, through W = Y·L⁻ᵀ) give the exact
    // factors themselves.
    const js = Float32Array.from(before);
    const gram = gramMatrix(items, 400, f, 5);
    const jsStep = { ...step, solver: 'cg' as const, x: js, gram, shortLimit: limit };
    solveRows(
      { ...jsStep, basis: woodburyBasis(items, 400, gram, f) },
      0,
      byUser.rows,
      createScratch(f),
    );
    let worstJs = 0;
    for (let u = 0; u < byUser.rows; u++) {
      if (byUser.indptr[u + 1] - byUser.indptr[u] > limit) continue;
      for (let a = 0; a < f; a++)
        worstJs = Math.max(worstJs, Math.abs(js[u * f + a] - exact[u * f + a]));
    }
    const scale = exact.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(worstJs).toBeLessThan(1e-4 * scale);
  });

  it('gives bit for bit the row-by-row factors when a sweep streams the other side, on 1 and 2 threads', async () => {
    const f = 16;
    const run = async (threads: number, stream: StreamChoice) => {
      const engine = engineOn(byUser, f, threads, stream);
      for (let it = 0; it < 3; it++) {
        await engine.sweep({ side: 'users', alpha: 2, cgSteps: 3 }, 5);
        await engine.sweep({ side: 'items', alpha: 2, cgSteps: 3 }, 5);
      }
      const out = {
        streamed: engine.layout.items.stream !== null,
        users: Float32Array.from(engine.factorsOf('users')),
        items: Float32Array.from(engine.factorsOf('items')),
      };
      await engine.close();
      return out;
    };
    const rowByRow = await run(1, 'never');
    for (const threads of [1, 2]) {
      const streamed = await run(threads, 'always');
      expect(streamed.streamed).toBe(true);
      expect(streamed.items).toEqual(rowByRow.items);
      expect(streamed.users).toEqual(rowByRow.users);
    }
    expect(rowByRow.streamed).toBe(false);
  });
});
