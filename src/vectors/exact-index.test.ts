import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { Random } from '../core/random.js';
import { loadWasmModule } from '../core/wasm.js';
import { describeVectorIndex } from '../../test/contracts/vector-index-contract.js';
import { ExactVectorIndex } from './exact-index.js';
import { VECTOR_METRICS } from './vector-index.js';

describeVectorIndex('exact', {
  open: async (dim, metric) => new ExactVectorIndex({ dim, metric, capacity: 16 }),
  exact: true,
  deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
});

// Int8 codes scanned, the best 3k + 16 rescored from the floats: approximate by the contract.
describeVectorIndex('exact, int8 codes', {
  open: async (dim, metric) =>
    new ExactVectorIndex({ dim, metric, quantize: 'int8', capacity: 16 }),
  exact: false,
  deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
});

// The plain JavaScript scoring used when the kernels are not built answers the same contract.
describeVectorIndex('exact, JavaScript scoring', {
  open: async (dim, metric) => new ExactVectorIndex({ dim, metric, simd: false }),
  exact: true,
  deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
});

describe('ExactVectorIndex', () => {
  it('finds its WebAssembly kernel built (npm run build:wasm)', () => {
    expect(loadWasmModule('vector-kernel')).not.toBeNull();
  });

  it('answers a batch split over threads as on one thread, and holds writes until it is done', async () => {
    const dim = 24;
    const n = 3000;
    const random = new Random(5);
    const vectors = random.fillGaussian(new Float32Array(n * dim), 1);
    const queries = random.fillGaussian(new Float32Array(101 * dim), 1);
    const keys = Uint32Array.from({ length: n }, (_, i) => 7 * i);
    for (const metric of VECTOR_METRICS) {
      const one = new ExactVectorIndex({ dim, metric, threads: 1 });
      const three = new ExactVectorIndex({ dim, metric, threads: 3 });
      await one.add(keys, vectors);
      await three.add(keys, vectors);
      const a = await one.search(queries, { k: 7 });
      const searching = three.search(queries, { k: 7 });
      // Removing every key while the threads read the rows: waits for the search to finish.
      const removing = three.remove(keys);
      const b = await searching;
      await removing;
      expect([...b.keys]).toEqual([...a.keys]);
      expect([...b.scores]).toEqual([...a.scores]);
      expect([...b.counts]).toEqual([...a.counts]);
      expect(three.size).toBe(0);
      expect([...(await three.search(queries, { k: 2 })).counts].every((c) => c === 0)).toBe(true);
      one.close();
      three.close();
    }
  });

  it('refuses a bad dim, metric or capacity, naming the option', () => {
    const cases: [() => unknown, string][] = [
      [() => new ExactVectorIndex({ dim: 0, metric: 'ip' }), 'dim'],
      [() => new ExactVectorIndex({ dim: 2.5, metric: 'ip' }), 'dim'],
      [() => new ExactVectorIndex({ dim: 4, metric: 'dot' as 'ip' }), 'metric'],
      [() => new ExactVectorIndex({ dim: 4, metric: 'ip', capacity: 0 }), 'capacity'],
      [() => ExactVectorIndex.deserialize(new Uint8Array(3)), 'bytes'],
    ];
    for (const [fn, field] of cases) {
      expect(fn).toThrow(InvalidArgumentError);
      try {
        fn();
      } catch (e) {
        expect((e as InvalidArgumentError).field).toBe(field);
      }
    }
  });

  it('refuses a serialized index cut short', async () => {
    const index = new ExactVectorIndex({ dim: 4, metric: 'l2' });
    await index.add([1, 2], Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    const bytes = index.serialize();
    expect(() => ExactVectorIndex.deserialize(bytes.subarray(0, bytes.length - 4))).toThrow(
      /expected/,
    );
    // At an odd byte offset it still reads.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const copy = ExactVectorIndex.deserialize(shifted.subarray(1));
    expect([...copy.get(2)!]).toEqual([5, 6, 7, 8]);
    // A Node Buffer read from a file sits inside a shared pool, where Buffer#slice does not copy.
    const pooled = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(bytes)]).subarray(3);
    expect([...ExactVectorIndex.deserialize(pooled).get(2)!]).toEqual([5, 6, 7, 8]);
  });

  it('keeps stored vectors intact across growth and removals (padding stays zero)', async () => {
    const index = new ExactVectorIndex({ dim: 5, metric: 'ip', capacity: 1 });
    const n = 300;
    const vectors = Float32Array.from({ length: n * 5 }, (_, i) => (i % 7) - 3);
    const keys = Uint32Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < n; i += 10)
      await index.add(keys.subarray(i, i + 10), vectors.subarray(i * 5, i * 5 + 50));
    await index.remove(keys.filter((key) => key % 2 === 0));
    for (let i = 1; i < n; i += 2)
      expect([...index.get(i)!]).toEqual([...vectors.subarray(i * 5, i * 5 + 5)]);
    // A query of all ones scores each row's sum: padding would add to it.
    const result = await index.search(Float32Array.from([1, 1, 1, 1, 1]), { k: 150 });
    expect(result.counts[0]).toBe(150);
    for (let j = 0; j < 150; j++) {
      const key = result.keys[j];
      const sum = [...vectors.subarray(key * 5, key * 5 + 5)].reduce((a, b) => a + b, 0);
      expect(result.scores[j]).toBe(sum);
    }
  });

  it('lets a process exit once its threaded searches are done (the idle pool holds it open no more)', async () => {
    // A script awaiting a batch split over threads: it must get its answer (the busy pool keeps
    // it alive) and then end by itself (the idle pool does not). The timeout only stops a hang.
    const script = `
      const { ExactVectorIndex } = await import(${JSON.stringify(new URL('./exact-index.ts', import.meta.url).href)});
      const dim = 8, n = 512;
      const index = new ExactVectorIndex({ dim, metric: 'ip', threads: 2 });
      const vectors = Float32Array.from({ length: n * dim }, (_, i) => (i * 7919) % 13);
      await index.add(Uint32Array.from({ length: n }, (_, i) => i), vectors);
      const result = await index.search(vectors.subarray(0, 64 * dim), { k: 3 });
      console.log('answered', result.counts.length);
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 60_000 },
    );
    expect(stdout.trim()).toBe('answered 64');
  });
});
