import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../core/errors.js';
import { loadWasmModule } from '../core/wasm.js';
import { describeVectorIndex } from '../../test/contracts/vector-index-contract.js';
import { ExactVectorIndex } from './exact-index.js';

describeVectorIndex('exact', {
  open: async (dim, metric) => new ExactVectorIndex({ dim, metric, capacity: 16 }),
  exact: true,
  deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
});

// The plain JavaScript scoring used when the kernels are not built answers the same contract.
describeVectorIndex('exact, JavaScript scoring', {
  open: async (dim, metric) => new ExactVectorIndex({ dim, metric, simd: false }),
  exact: true,
  deserialize: async (bytes) => ExactVectorIndex.deserialize(bytes),
});

describe('ExactVectorIndex', () => {
  it('finds both WebAssembly kernels built (npm run build:wasm)', () => {
    expect(loadWasmModule('dense-kernel')).not.toBeNull();
    expect(loadWasmModule('vector-kernel')).not.toBeNull();
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
});
