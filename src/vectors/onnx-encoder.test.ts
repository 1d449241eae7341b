import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DataError, InvalidArgumentError, NotFoundError } from '../core/errors.js';
import { OnnxEncoder } from './onnx-encoder.js';

const FIXTURES = 'test/fixtures/onnx';

/** The weights scripts/make-tiny-onnx.py writes, from its formula. */
const W = Array.from({ length: 4 }, (_, i) =>
  Array.from({ length: 3 }, (_, j) => ((((i + 1) * (j + 2)) % 7) - 3) / 4),
);
const B = [-0.1, 0, 0.1];

/** x W + b for one row of 4 values, then `f` per component. */
function affine(x: ArrayLike<number>, f: (z: number) => number = (z) => z): number[] {
  return B.map((b, j) => f(b + W.reduce((s, row, i) => s + x[i] * row[j], 0)));
}

/** `n` rows of 4 values from a fixed formula. */
function rows(n: number): Float32Array {
  return Float32Array.from({ length: n * 4 }, (_, k) => Math.sin(k * 0.7) * 2);
}

describe('OnnxEncoder', () => {
  it('embeds rows with a tiny model, matching tanh(x W + b) computed here', async () => {
    const encoder = await OnnxEncoder.load(`${FIXTURES}/tiny-linear.onnx`, { batchSize: 4 });
    try {
      expect(encoder.inputName).toBe('x');
      expect(encoder.outputName).toBe('embedding');
      expect(encoder.rowSize).toBe(4);
      expect(encoder.declaredDim).toBe(3);
      const x = rows(10); // batches of 4, 4 and 2
      const progress: number[] = [];
      const { dim, vectors } = await encoder.encode(x, 4, { onProgress: (d) => progress.push(d) });
      expect(dim).toBe(3);
      expect(vectors).toHaveLength(30);
      for (let r = 0; r < 10; r++) {
        const expected = affine(x.subarray(r * 4, r * 4 + 4), Math.tanh);
        for (let j = 0; j < 3; j++) expect(vectors[r * 3 + j]).toBeCloseTo(expected[j], 5);
      }
      expect(progress).toEqual([4, 8, 10]);
    } finally {
      await encoder.close();
    }
  });

  it('pads the last batch of a model exported with a fixed batch size of 4', async () => {
    const encoder = await OnnxEncoder.load(`${FIXTURES}/tiny-batch4.onnx`, { batchSize: 100 });
    try {
      const x = rows(6); // one whole batch, then 2 rows padded to 4
      const progress: number[] = [];
      const { dim, vectors } = await encoder.encode(x, 4, { onProgress: (d) => progress.push(d) });
      expect(dim).toBe(3);
      expect(vectors).toHaveLength(18);
      for (let r = 0; r < 6; r++) {
        const expected = affine(x.subarray(r * 4, r * 4 + 4), Math.tanh);
        for (let j = 0; j < 3; j++) expect(vectors[r * 3 + j]).toBeCloseTo(expected[j], 5);
      }
      expect(progress).toEqual([4, 6]);
    } finally {
      await encoder.close();
    }
  });

  it('reshapes flat rows into an image-shaped input [batch, 1, 2, 2]', async () => {
    const bytes = new Uint8Array(await readFile(`${FIXTURES}/tiny-image.onnx`));
    const encoder = await OnnxEncoder.load(bytes);
    try {
      expect(encoder.rowShape).toEqual([1, 2, 2]);
      const x = rows(3);
      const { dim, vectors } = await encoder.encode(x, 4);
      expect(dim).toBe(3);
      for (let r = 0; r < 3; r++) {
        const expected = affine(x.subarray(r * 4, r * 4 + 4));
        for (let j = 0; j < 3; j++) expect(vectors[r * 3 + j]).toBeCloseTo(expected[j], 5);
      }
    } finally {
      await encoder.close();
    }
  });

  it('refuses rows whose width differs from what the input takes, naming the field', async () => {
    const encoder = await OnnxEncoder.load(`${FIXTURES}/tiny-image.onnx`);
    try {
      const wrong = encoder.encode(new Float32Array(10), 5, { field: '--feature-columns' });
      await expect(wrong).rejects.toThrow(InvalidArgumentError);
      await expect(
        encoder.encode(new Float32Array(10), 5, { field: '--feature-columns' }),
      ).rejects.toThrow(
        /--feature-columns: rows have 5 values; input "x" of .*tiny-image\.onnx takes 1×2×2 = 4 per row/,
      );
      await expect(encoder.encode(new Float32Array(10), 4)).rejects.toThrow(
        /rows: 10 values are not a whole number of rows of 4/,
      );
    } finally {
      await encoder.close();
    }
  });

  it('refuses a model whose output is not 2-D, or whose input has no batch dimension', async () => {
    await expect(
      OnnxEncoder.load(`${FIXTURES}/tiny-3d-output.onnx`, { field: '--onnx' }),
    ).rejects.toThrow(
      /--onnx: output "embedding" of .*tiny-3d-output\.onnx has shape \[batch, 3, 1\]; an embedding output must be 2-D/,
    );
    const rank1 = OnnxEncoder.load(`${FIXTURES}/tiny-rank1.onnx`, { field: '--onnx' });
    await expect(rank1).rejects.toThrow(InvalidArgumentError);
    await expect(OnnxEncoder.load(`${FIXTURES}/tiny-rank1.onnx`)).rejects.toThrow(
      /model: input "x" of .*tiny-rank1\.onnx has rank 1 \(\[4\]\); the encoder feeds batches/,
    );
  });

  it('names unknown inputs and outputs, missing files and files that are no model', async () => {
    await expect(
      OnnxEncoder.load(`${FIXTURES}/tiny-linear.onnx`, { inputName: 'pixels' }),
    ).rejects.toThrow(/inputName: .* has no input "pixels"; its inputs: "x"/);
    await expect(
      OnnxEncoder.load(`${FIXTURES}/tiny-linear.onnx`, { outputName: 'logits' }),
    ).rejects.toThrow(/outputName: .* has no output "logits"; its outputs: "embedding"/);
    await expect(OnnxEncoder.load(`${FIXTURES}/missing.onnx`)).rejects.toThrow(NotFoundError);
    await expect(OnnxEncoder.load('package.json')).rejects.toThrow(DataError);
    await expect(OnnxEncoder.load('package.json')).rejects.toThrow(
      /package\.json: onnxruntime cannot load it as an ONNX model/,
    );
    await expect(
      OnnxEncoder.load(`${FIXTURES}/tiny-linear.onnx`, { batchSize: 0 }),
    ).rejects.toThrow(/batchSize: must be a positive integer/);
  });
});
